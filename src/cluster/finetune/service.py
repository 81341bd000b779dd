"""Fine-tuning jobs as the API sees them: create (validate the base model and the data, copy the data into
the job's folder), list, read, events, checkpoints, cancel. Training itself is the runner's
(``cluster.finetune.runner``); this module never waits for it."""

from __future__ import annotations

import importlib.util
import random
import shutil
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cluster.auth import Principal
from cluster.auth.times import aware
from cluster.billing import BillingService
from cluster.db.pages import newest_first
from cluster.errors import FeatureDisabled, InvalidRequest, NotFound, ServiceUnavailable
from cluster.finetune import charges
from cluster.finetune.files import Files
from cluster.finetune.models import CheckpointRow, EventRow, JobRow
from cluster.finetune.protocol import (
    TERMINAL,
    Checkpoint,
    CheckpointList,
    EventList,
    FineTuningJob,
    JobCreate,
    JobError,
    JobEvent,
    JobList,
)
from cluster.finetune.validation import ChatFileCheck
from cluster.gateway.catalog import Catalog
from cluster.marketplace.service import Marketplace
from cluster.settings import FineTuneSettings, Lineage

TRAINING_PACKAGES = ("torch", "transformers", "peft", "gguf")


class FineTuning:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: FineTuneSettings,
        files: Files,
        workdir: Path,
        catalog: Catalog,
        trainable: dict[str, Path],
        marketplace: Marketplace | None,
        billing: BillingService,
    ) -> None:
        self._engine = engine
        self._billing = billing
        self._settings = settings
        self.files = files
        self.workdir = workdir
        self._catalog = catalog
        self._trainable = trainable
        self._marketplace = marketplace

    @property
    def trainable(self) -> list[str]:
        """The base models a job may start from (local trainer; a remote one takes what the catalog declares)."""
        return sorted(self._trainable)

    # -- create -------------------------------------------------------------------------------------------
    async def create(self, caller: Principal, request: JobCreate) -> FineTuningJob:
        base = self._base_model(request.model)
        job_id = f"ftjob-{uuid.uuid4().hex[:24]}"
        folder = self.workdir / job_id
        folder.mkdir(parents=True)
        price = self._settings.training_price
        try:
            token_id = None
            if request.dataset is not None:
                examples, token_id = await self._copy_dataset(caller, request.dataset, folder / "train.jsonl")
            else:
                assert request.training_file is not None
                examples = await self._copy_file(caller, request.training_file, folder / "train.jsonl")
            if request.validation_file is not None:
                await self._copy_file(caller, request.validation_file, folder / "validation.jsonl")
            resolved = self._hyperparameters(request, examples)
            size = (folder / "train.jsonl").stat().st_size
            charged = charges.bound(price, size, examples, int(resolved["n_epochs"]))
            await charges.charge(self._billing, caller.user_id, job_id, charged)  # 402 if the balance is short
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        row = {
            "id": job_id,
            "user_id": caller.user_id,
            "model": base,
            "training_file": request.training_file,
            "validation_file": request.validation_file,
            "dataset_slug": request.dataset,
            "dataset_token_id": token_id,
            "hyperparameters": resolved,
            "suffix": request.suffix,
            "seed": request.seed if request.seed is not None else random.randrange(2**31),
            "public": request.public,
            "status": "queued",
            "attempts": 0,
            "charged": charged,
            "model_deleted": False,
            "created_at": datetime.now(UTC),
        }
        source = f"dataset {request.dataset}" if request.dataset else f"file {request.training_file}"
        try:
            async with self._engine.begin() as connection:
                await connection.execute(insert(JobRow).values(**row))
                await add_event(connection, job_id, f"Created fine-tuning job: {job_id}")
                await add_event(connection, job_id, f"Validated training data ({source}): {examples} examples")
                if charged:
                    await add_event(
                        connection, job_id, f"Charged {charged} micro-USDC up front; the unused part is refunded"
                    )
                await add_event(connection, job_id, "Job enqueued; it will start when a trainer is free")
        except BaseException:
            await charges.settle(self._billing, caller.user_id, job_id, charged, None, price)
            shutil.rmtree(folder, ignore_errors=True)
            raise
        return await self.get(caller, job_id)

    def _hyperparameters(self, request: JobCreate, examples: int) -> dict[str, Any]:
        hyper, settings = request.hyperparameters, self._settings
        return {
            "n_epochs": settings.default_epochs if hyper.n_epochs == "auto" else hyper.n_epochs,
            "batch_size": min(settings.default_batch_size, examples)
            if hyper.batch_size == "auto"
            else hyper.batch_size,
            "learning_rate_multiplier": 1.0
            if hyper.learning_rate_multiplier == "auto"
            else hyper.learning_rate_multiplier,
        }

    def _base_model(self, name: str) -> str:
        if name.startswith("ft:"):
            raise InvalidRequest("fine-tuning a fine-tuned model is not supported: start from its base", param="model")
        if self._settings.trainer == "remote":  # priced here: declare the remote's bases in [[models]]
            if not self._catalog.has(name):
                raise InvalidRequest(
                    f"model {name!r} is not in this server's catalog: declare it (with its price) to fine-tune it "
                    "on the remote trainer",
                    param="model",
                    code="model_not_available",
                )
            return self._catalog.resolve(name).id
        base = self._catalog.resolve(name).id
        if base not in self._trainable:
            choices = ", ".join(sorted(self._trainable)) or "none configured"
            raise InvalidRequest(
                f"model {name!r} cannot be fine-tuned here (local LoRA needs a llama.cpp GGUF model: {choices})",
                param="model",
                code="model_not_available",
            )
        missing = [p for p in TRAINING_PACKAGES if importlib.util.find_spec(p) is None]
        if missing:
            raise ServiceUnavailable(
                f"local fine-tuning needs the finetune extra (missing {missing}): "
                "pip install 'cluster-protocol[finetune]'"
            )
        return base

    async def _copy_file(self, caller: Principal, file_id: str, destination: Path) -> int:
        file = await self.files.get(caller, file_id)
        shutil.copyfile(self.files.path(file_id), destination)
        return file.lines or 0

    async def _copy_dataset(self, caller: Principal, slug: str, destination: Path) -> tuple[int, int | None]:
        """The caller must hold download access: checked on chain by the marketplace before a byte is read."""
        if self._marketplace is None:
            raise FeatureDisabled(
                "the marketplace is disabled on this server (enable it with chain.enabled = true): "
                "train on an uploaded training_file instead",
                param="dataset",
            )
        row, _, _, body = await self._marketplace.download(slug, caller)
        if row.format != "jsonl":
            raise InvalidRequest(f"dataset {slug!r} is {row.format}: fine-tuning needs chat JSONL", param="dataset")
        check = ChatFileCheck()
        with destination.open("wb") as out:
            async for piece in body:
                check.feed(piece)
                out.write(piece)
        return check.finish(), row.token_id

    # -- read ---------------------------------------------------------------------------------------------
    async def get(self, caller: Principal, job_id: str) -> FineTuningJob:
        return self.wire(await self._own(caller, job_id))

    async def list(self, caller: Principal, after: str | None, limit: int) -> JobList:
        query = select(JobRow)
        if not caller.is_admin:
            query = query.where(JobRow.user_id == caller.user_id)
        query = newest_first(query, JobRow.created_at, JobRow.id, after)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query.limit(limit + 1))).all()
        return JobList(data=[self.wire(r) for r in rows[:limit]], has_more=len(rows) > limit)

    async def events(self, caller: Principal, job_id: str, after: str | None, limit: int) -> EventList:
        """Newest first, as OpenAI's; ``after`` is the id of the last event of the previous page."""
        await self._own(caller, job_id)
        query = select(EventRow).where(EventRow.job_id == job_id)
        if after is not None:
            query = query.where(EventRow.id < _event_number(after))
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query.order_by(EventRow.id.desc()).limit(limit + 1))).all()
        events = [
            JobEvent(
                id=f"ftevent-{r.id}",
                created_at=int(aware(r.created_at).timestamp()),
                level=r.level,
                message=r.message,
                type=r.type,
                data=r.data,
            )
            for r in rows[:limit]
        ]
        return EventList(data=events, has_more=len(rows) > limit)

    async def checkpoints(self, caller: Principal, job_id: str, limit: int) -> CheckpointList:
        job = await self._own(caller, job_id)
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(CheckpointRow)
                    .where(CheckpointRow.job_id == job_id)
                    .order_by(CheckpointRow.step.desc())
                    .limit(limit)
                )
            ).all()
        name = model_name(job)
        data = [
            Checkpoint(
                id=r.id,
                created_at=int(aware(r.created_at).timestamp()),
                fine_tuned_model_checkpoint=f"{name}:ckpt-step-{r.step}",
                fine_tuning_job_id=job_id,
                metrics={"step": r.step, "epoch": r.epoch, "train_loss": r.train_loss, "valid_loss": r.valid_loss},
                step_number=r.step,
            )
            for r in rows
        ]
        return CheckpointList(data=data, first_id=data[0].id if data else None, last_id=data[-1].id if data else None)

    # -- change -------------------------------------------------------------------------------------------
    async def cancel(self, caller: Principal, job_id: str) -> FineTuningJob:
        """Queued jobs never start; a running one is stopped by its runner at its next heartbeat."""
        job = await self._own(caller, job_id)
        if job.status in TERMINAL:
            raise InvalidRequest(
                f"job {job_id} has already {job.status}", param="fine_tuning_job_id", code="job_finished"
            )
        async with self._engine.begin() as connection:
            changed = await connection.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status.not_in(list(TERMINAL)))
                .values(status="cancelled", finished_at=datetime.now(UTC))
            )
            if changed.rowcount:
                await add_event(connection, job_id, "Fine-tuning job cancelled")
        if job.status == "queued":  # nobody holds it: its copy of the data goes now (a runner cleans its own)
            clean_workdir(self.workdir / job_id)
            await settle(self._engine, self._billing, self._settings, job, None)
            if job.remote_id:  # submitted before a restart: a runner cancels it at the remote trainer
                async with self._engine.begin() as connection:
                    await connection.execute(update(JobRow).where(JobRow.id == job_id).values(worker="sweep"))
        return await self.get(caller, job_id)

    async def _own(self, caller: Principal, job_id: str) -> Any:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(JobRow).where(JobRow.id == job_id))).one_or_none()
        if row is None or (row.user_id != caller.user_id and not caller.is_admin):
            raise NotFound(f"No such fine-tuning job: {job_id}", param="fine_tuning_job_id", code="job_not_found")
        return row

    def wire(self, row: Any) -> FineTuningJob:
        lineage = lineage_of(row, self._settings.royalty_bps) if row.fine_tuned_model else None
        return FineTuningJob(
            id=row.id,
            created_at=int(aware(row.created_at).timestamp()),
            error=JobError(**row.error) if row.error else None,
            fine_tuned_model=None if row.model_deleted else row.fine_tuned_model,
            finished_at=int(aware(row.finished_at).timestamp()) if row.finished_at else None,
            hyperparameters=row.hyperparameters,
            model=row.model,
            organization_id=row.user_id,
            seed=row.seed,
            status=row.status,
            trained_tokens=row.trained_tokens,
            training_file=row.training_file,
            validation_file=row.validation_file,
            user_provided_suffix=row.suffix,
            dataset=row.dataset_slug,
            lineage=lineage,
            public=row.public,
            charged=row.charged,
            cost=row.cost,
        )


async def settle(
    engine: AsyncEngine, billing: BillingService, settings: FineTuneSettings, job: Any, trained_tokens: int | None
) -> None:
    """Refund what an ended job did not use (all of it unless it succeeded) and record what it cost."""
    final = await charges.settle(billing, job.user_id, job.id, job.charged, trained_tokens, settings.training_price)
    async with engine.begin() as connection:
        await connection.execute(update(JobRow).where(JobRow.id == job.id).values(cost=final))


def lineage_of(job: Any, royalty_bps: int) -> Lineage:
    """Where a fine-tuned model came from (its catalog card and its job show the same)."""
    return Lineage(
        dataset=job.dataset_slug, token_id=job.dataset_token_id, base=job.model, job=job.id, royalty_bps=royalty_bps
    )


def model_name(job: Any) -> str:
    """``ft:<base>:<suffix>:<job id>`` (the suffix part is left out when none was given)."""
    parts = ["ft", job.model, *([job.suffix] if job.suffix else []), job.id]
    return ":".join(parts)


async def add_event(
    connection: AsyncConnection,
    job_id: str,
    message: str,
    *,
    level: str = "info",
    type: str = "message",
    data: dict[str, Any] | None = None,
) -> None:
    await connection.execute(
        insert(EventRow).values(
            job_id=job_id, created_at=datetime.now(UTC), level=level, type=type, message=message, data=data
        )
    )


def _event_number(event_id: str) -> int:
    try:
        return int(event_id.removeprefix("ftevent-"))
    except ValueError:
        raise InvalidRequest(f"not an event id: {event_id!r}", param="after") from None


def clean_workdir(folder: Path) -> None:
    """Training data and resume state go when a job ends (the data may be a buyer's licensed copy); the
    adapter and the worker's log stay."""
    for name in ("train.jsonl", "validation.jsonl", "state", "state.new", "state.old", "spec.json"):
        target = folder / name
        if target.is_dir():
            shutil.rmtree(target, ignore_errors=True)
        else:
            target.unlink(missing_ok=True)
