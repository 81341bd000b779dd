"""The public model catalog: names and aliases → prices, task type and the providers that serve them.

Built once at start-up from configuration; lookups are one dict access.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from cluster.errors import ModelNotFound
from cluster.settings import ModelConfig, ProviderConfig
from cluster.wire.openai import ModelCard, Pricing

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Route:
    provider: str
    upstream_model: str


@dataclass(frozen=True, slots=True)
class CatalogEntry:
    model: ModelConfig
    routes: tuple[Route, ...]

    @property
    def id(self) -> str:
        return self.model.id


class Catalog:
    def __init__(self, models: list[ModelConfig], providers: list[ProviderConfig]) -> None:
        declared = {m.id: m for m in models}
        routes: dict[str, list[Route]] = {}
        for provider in providers:
            for model_id, upstream_name in provider.models.items():
                routes.setdefault(model_id, []).append(Route(provider.name, upstream_name))
        for model_id in routes.keys() - declared.keys():
            log.warning("model %r is served but not declared in [[models]]: listed at price 0", model_id)
            task = "embedding" if "embed" in model_id.lower() else "chat"
            declared[model_id] = ModelConfig(id=model_id, task=task)
        for model_id in declared.keys() - routes.keys():
            log.warning("model %r is declared but no provider serves it: not listed", model_id)

        self._created = int(time.time())
        self._entries = [CatalogEntry(declared[m], tuple(routes[m])) for m in sorted(routes)]
        self._by_name: dict[str, CatalogEntry] = {}
        for entry in self._entries:
            for name in (entry.id, *entry.model.aliases):
                if name in self._by_name:
                    raise ValueError(f"model name {name!r} is used twice in the catalog")
                self._by_name[name] = entry

    def resolve(self, name: str) -> CatalogEntry:
        entry = self._by_name.get(name)
        if entry is None:
            raise ModelNotFound(f"The model '{name}' does not exist", param="model")
        return entry

    def has(self, name: str) -> bool:
        return name in self._by_name

    def entries(self) -> list[CatalogEntry]:
        return list(self._entries)

    def card(self, entry: CatalogEntry) -> ModelCard:
        model = entry.model
        return ModelCard(
            id=model.id,
            created=self._created,
            owned_by=model.owned_by,
            task=model.task,
            context_length=model.context_length,
            pricing=Pricing(
                input=model.input_price,
                output=model.output_price,
                character=model.character_price,
                second=model.second_price,
                image=model.image_price,
                search=model.search_price,
            ),
            providers=[route.provider for route in entry.routes],
            aliases=model.aliases,
            tee=model.tee,
            dimensions=model.dimensions,
            voices=model.voices,
            sizes=model.sizes,
            description=model.description,
            lineage=model.lineage.model_dump() if model.lineage else None,
        )
