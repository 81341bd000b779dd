"""Fine-tuned models on the inference path: a succeeded job's model, found by name, loaded on first use.

Nothing is registered anywhere when a job succeeds: the job row is the record, so every service process
serves the model from then on. A model is loaded as a provider of its own (the base GGUF with the job's LoRA
adapter, or a route to the remote trainer's upstream) and added to the router; at most
``max_loaded_models`` stay loaded per process, the least recently used idle one going first. Who may call
it: its owner, and everyone if the job was created ``public``.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.auth import Principal
from cluster.errors import NotFound
from cluster.finetune.models import JobRow
from cluster.finetune.service import lineage_of
from cluster.gateway.catalog import Catalog, CatalogEntry, Route
from cluster.gateway.router import Router
from cluster.providers.base import Provider
from cluster.providers.local.llama_cpp import LlamaCppProvider
from cluster.providers.openai_compatible import OpenAICompatibleProvider
from cluster.settings import Lineage, ModelConfig, ProviderConfig, Settings
from cluster.wire.openai import ModelCard

RECHECK_SECONDS = 10.0  # how long a loaded model trusts its row (deletion, visibility) before re-reading it


@dataclass(slots=True)
class _Loaded:
    entry: CatalogEntry
    owner: str
    public: bool
    checked: float


class FineTunedModels:
    def __init__(
        self, engine: AsyncEngine, settings: Settings, catalog: Catalog, router: Router, base_paths: dict[str, Path]
    ) -> None:
        self._engine = engine
        self._settings = settings
        self._catalog = catalog
        self._router = router
        self._base_paths = base_paths
        self._loaded: OrderedDict[str, _Loaded] = OrderedDict()

    async def resolve(self, name: str, user_id: str | None) -> CatalogEntry | None:
        """The model's catalog entry if it exists and ``user_id`` may call it (loading it if needed)."""
        if not name.startswith("ft:"):
            return None
        loaded = self._loaded.get(name)
        if loaded is None or time.monotonic() - loaded.checked > RECHECK_SECONDS:
            row = await self._row(name)
            if row is None:
                await self._unload(name)
                return None
            if loaded is None:  # another request may have loaded it while the row was read
                loaded = self._loaded.get(name) or await self._load(row)
            loaded.owner, loaded.public, loaded.checked = row.user_id, row.public, time.monotonic()
        self._loaded.move_to_end(name)
        if not (loaded.public or loaded.owner == user_id):
            return None
        return loaded.entry

    async def cards(self, user_id: str | None) -> list[ModelCard]:
        """The fine-tuned models ``user_id`` may call (public ones for everyone)."""
        query = select(JobRow).where(JobRow.status == "succeeded", JobRow.model_deleted.is_(False))
        query = query.where(
            JobRow.public.is_(True) | (JobRow.user_id == user_id) if user_id else JobRow.public.is_(True)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query.order_by(JobRow.finished_at))).all()
        return [self._catalog.card(self._entry(row)) for row in rows]

    async def lineages(self) -> dict[str, Lineage]:
        """Every fine-tuned model trained on a marketplace dataset (deleted ones too: their calls still owe)."""
        query = select(JobRow).where(JobRow.status == "succeeded", JobRow.dataset_slug.is_not(None))
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        return {row.fine_tuned_model: self._lineage(row) for row in rows if row.fine_tuned_model}

    async def delete(self, caller: Principal, name: str) -> dict[str, Any]:
        row = await self._row(name)
        if row is None or (row.user_id != caller.user_id and not caller.is_admin):
            raise NotFound(f"The model '{name}' does not exist", param="model", code="model_not_found")
        async with self._engine.begin() as connection:
            await connection.execute(update(JobRow).where(JobRow.id == row.id).values(model_deleted=True))
        await self._unload(name)
        return {"id": name, "object": "model", "deleted": True}

    async def aclose(self) -> None:
        for name in list(self._loaded):
            await self._unload(name)

    async def _row(self, name: str) -> Any:
        query = select(JobRow).where(
            JobRow.fine_tuned_model == name, JobRow.status == "succeeded", JobRow.model_deleted.is_(False)
        )
        async with self._engine.connect() as connection:
            return (await connection.execute(query)).one_or_none()

    async def _load(self, row: Any) -> _Loaded:
        entry = self._entry(row)
        self._router.add(self._provider(row), max_concurrency=self._settings.local.max_queue)
        loaded = self._loaded[row.fine_tuned_model] = _Loaded(entry, row.user_id, row.public, time.monotonic())
        await self._evict(keep=row.fine_tuned_model)
        return loaded

    def _entry(self, row: Any) -> CatalogEntry:
        base = self._catalog.resolve(row.model).model if self._catalog.has(row.model) else None
        model = (base or ModelConfig(id=row.model)).model_copy(
            update={"id": row.fine_tuned_model, "aliases": [], "owned_by": row.user_id, "lineage": self._lineage(row)}
        )
        return CatalogEntry(model, (Route(_provider_name(row), row.remote_id or row.fine_tuned_model),))

    def _lineage(self, row: Any) -> Lineage:
        return lineage_of(row, self._settings.finetune.royalty_bps)

    def _provider(self, row: Any) -> Provider:
        name = _provider_name(row)
        if row.adapter_path is not None:
            return LlamaCppProvider(
                name,
                self._base_paths[row.model],
                context=self._settings.local.chat_context,
                reproducible=self._settings.local.reproducible,
                threads=self._settings.local.threads,
                lora_path=Path(row.adapter_path),
            )
        finetune = self._settings.finetune
        assert finetune.remote_url is not None, "a remote job is served by the remote trainer's upstream"
        config = ProviderConfig(
            name=name,
            base_url=finetune.remote_url,
            api_key=finetune.remote_key,
            models={row.fine_tuned_model: row.remote_id},
        )
        return OpenAICompatibleProvider(config)

    async def _evict(self, keep: str) -> None:
        """Down to the limit, idle models first, never ``keep`` (just loaded): above the limit while all are busy."""
        limit = self._settings.finetune.max_loaded_models
        for name in list(self._loaded):  # least recently used first
            if len(self._loaded) <= limit:
                return
            if name == keep:
                continue
            upstream = self._router.get(self._loaded[name].entry.routes[0].provider)
            if upstream is None or upstream.in_flight == 0:
                await self._unload(name)

    async def _unload(self, name: str) -> None:
        provider = self._drop(name)
        if provider is not None:
            await provider.aclose()

    def _drop(self, name: str) -> Provider | None:
        loaded = self._loaded.pop(name, None)
        if loaded is None:
            return None
        upstream = self._router.remove(loaded.entry.routes[0].provider)
        if upstream is None:
            return None
        if upstream.in_flight == 0:
            return upstream.provider
        return None  # still serving: its thread ends with the process


def _provider_name(row: Any) -> str:
    return f"ft/{row.id}"
