"""Runs queued jobs, one per free slot of this process, and keeps their rows honest.

Every ``poll_interval`` the runner (1) heartbeats the jobs it trains and stops any that was cancelled or taken
from it, (2) re-queues running jobs whose heartbeat is older than ``heartbeat_timeout`` (their process died:
they resume from their last saved state), (3) claims queued jobs for its free slots. Claims and take-overs
are conditional updates, so any number of service processes can share one database. A clean shutdown puts
its jobs back in the queue at once. A job that has started ``max_attempts`` times fails instead of looping.

Success is one conditional update that sets the model's name: from then on ``/v1/models`` and the chat path
of every process find it (``cluster.finetune.deployed``), with no other step.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import socket
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from prometheus_client.core import Metric
from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.auth.times import aware
from cluster.billing import BillingService
from cluster.finetune import charges
from cluster.finetune.models import CheckpointRow, JobRow
from cluster.finetune.service import add_event, clean_workdir, model_name, settle
from cluster.finetune.trainer import Trained, Trainer, TrainingFailed, TrainingRun
from cluster.metering.metrics import gauge
from cluster.settings import FineTuneSettings

log = logging.getLogger(__name__)
SWEEP = "sweep"  # the ``worker`` of an ended job whose leftovers a runner must clear (see ``_sweep``)


class JobRunner:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: FineTuneSettings,
        trainer: Trainer,
        workdir: Path,
        trainable: dict[str, Path],
        billing: BillingService,
    ) -> None:
        self._engine = engine
        self._billing = billing
        self._settings = settings
        self._trainer = trainer
        self._workdir = workdir
        self._trainable = trainable
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self._tasks: dict[str, asyncio.Task[None]] = {}
        #: jobs this process must stop without requeueing: job id -> status now (cancelled, or taken over)
        self._lost: dict[str, str] = {}
        self._ending: set[str] = set()  # jobs this worker is ending (their task settles the charge)
        self._settling: set[asyncio.Future[None]] = set()  # settlements that outlive a cancelled task
        self._loop: asyncio.Task[None] | None = None
        #: jobs by status across the deployment and the oldest queued job's creation time, as of the last tick
        self._queue: tuple[dict[str, int], float | None] = ({}, None)
        self._stopping = asyncio.Event()

    def start(self) -> None:
        self._loop = asyncio.create_task(self._run_forever(), name="finetune-runner")

    async def stop(self) -> None:
        """Stop training here; the jobs go back to the queue (resumed by the next process to start). The loop
        finishes its tick rather than being cancelled inside a transaction (SQLite would stay locked)."""
        self._stopping.set()
        if self._loop is not None:
            await self._loop
        for task in list(self._tasks.values()):
            task.cancel()
        for task in list(self._tasks.values()):
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await asyncio.gather(*self._settling, return_exceptions=True)  # a refund under way is finished

    @property
    def active(self) -> list[str]:
        return list(self._tasks)

    async def _run_forever(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.tick()
            except Exception:
                log.exception("fine-tuning runner tick failed")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._settings.poll_interval)

    async def tick(self) -> None:
        await self._heartbeat()
        await self._recover_orphans()
        await self._sweep()
        await self._claim()
        await self.measure()

    async def measure(self) -> None:
        waiting = JobRow.status.in_(["queued", "running"])
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(JobRow.status, func.count()).where(waiting).group_by(JobRow.status))
            counts = {status: count for status, count in rows}
            oldest = await connection.scalar(select(func.min(JobRow.created_at)).where(JobRow.status == "queued"))
        self._queue = (counts, aware(oldest).timestamp() if oldest is not None else None)

    def gauges(self) -> Iterable[Metric]:
        """The fine-tuning queue as this process's runner last saw it, and this process's training slots."""
        counts, oldest = self._queue
        statuses = [([status], counts.get(status, 0)) for status in ("queued", "running")]
        yield gauge("cluster_finetune_jobs", "Fine-tuning jobs waiting or training (whole deployment)", ["status"],
                    statuses)  # fmt: skip
        age: list[tuple[list[str], float]] = [([], time.time() - oldest if oldest is not None else 0.0)]
        yield gauge("cluster_finetune_oldest_queued_seconds", "Age of the oldest queued job", [], age)
        yield gauge("cluster_finetune_slots", "This process's training slots", ["state"],
                    [(["busy"], len(self._tasks)), (["total"], self._settings.max_concurrent_jobs)])  # fmt: skip

    # -- keeping rows honest ------------------------------------------------------------------------------
    async def _heartbeat(self) -> None:
        if not self._tasks:
            return
        mine = list(self._tasks)
        async with self._engine.begin() as connection:
            await connection.execute(
                update(JobRow)
                .where(JobRow.id.in_(mine), JobRow.worker == self.worker_id, JobRow.status == "running")
                .values(heartbeat_at=datetime.now(UTC))
            )
            rows = await connection.execute(select(JobRow.id, JobRow.status, JobRow.worker).where(JobRow.id.in_(mine)))
            now = {job_id: (status, worker) for job_id, status, worker in rows}
        for job_id in mine:
            task = self._tasks.get(job_id)
            if task is None or job_id in self._lost:  # finished meanwhile, or already being stopped
                continue
            status, worker = now.get(job_id, ("cancelled", None))
            if job_id in self._ending:
                # this worker just ended it: its task is settling the charge, and cancelling it there left the
                # refund unpaid (seen in CI). A job ended by another worker is still stopped below.
                continue
            if status != "running" or worker != self.worker_id:
                self._lost[job_id] = status if status == "cancelled" else "taken"
                task.cancel()

    async def _recover_orphans(self) -> None:
        stale = datetime.now(UTC) - timedelta(seconds=self._settings.heartbeat_timeout)
        async with self._engine.connect() as connection:
            orphans = (
                await connection.execute(
                    select(JobRow.id, JobRow.worker).where(JobRow.status == "running", JobRow.heartbeat_at < stale)
                )
            ).all()
        for job_id, worker in orphans:
            async with self._engine.begin() as connection:
                taken = await connection.execute(
                    update(JobRow)
                    .where(
                        JobRow.id == job_id,
                        JobRow.status == "running",
                        JobRow.worker == worker,
                        JobRow.heartbeat_at < stale,  # a heartbeat since the look above keeps it where it is
                    )
                    .values(status="queued", worker=None)
                )
                if taken.rowcount:
                    await add_event(
                        connection,
                        job_id,
                        f"Training was interrupted (worker {worker} stopped responding); "
                        "it will resume from its last saved state",
                        level="warn",
                    )

    async def _sweep(self) -> None:
        """Ended jobs still marked with a holder that will not clean up: cancelled while their process was dead,
        or cancelled while queued with a job at a remote trainer (marked ``SWEEP``). Their data copy goes and a
        remote job is cancelled there."""
        stale = datetime.now(UTC) - timedelta(seconds=self._settings.heartbeat_timeout)
        async with self._engine.connect() as connection:
            leftovers = (
                await connection.execute(
                    select(JobRow.id, JobRow.worker, JobRow.remote_id, JobRow.status).where(
                        JobRow.status.in_(["cancelled", "failed"]),
                        JobRow.worker.is_not(None),
                        (JobRow.worker == SWEEP) | (JobRow.heartbeat_at < stale),
                    )
                )
            ).all()
        for job_id, worker, remote_id, status in leftovers:
            if job_id in self._tasks:
                continue
            async with self._engine.begin() as connection:
                mine = await connection.execute(
                    update(JobRow).where(JobRow.id == job_id, JobRow.worker == worker).values(worker=None)
                )
            if mine.rowcount:
                clean_workdir(self._workdir / job_id)
                await self._settle(job_id, None)
                if status == "cancelled":
                    await self._cancel_remote(job_id, remote_id)

    async def _claim(self) -> None:
        free = self._settings.max_concurrent_jobs - len(self._tasks)
        if free <= 0:
            return
        async with self._engine.connect() as connection:
            queued = (
                await connection.execute(
                    select(JobRow.id).where(JobRow.status == "queued").order_by(JobRow.created_at).limit(free)
                )
            ).scalars()
            candidates = list(queued)
        for job_id in candidates:
            job = await self._take(job_id)
            if job is not None:
                self._tasks[job.id] = asyncio.create_task(self._train(job), name=f"finetune-{job.id}")

    async def _take(self, job_id: str) -> Any:
        now = datetime.now(UTC)
        async with self._engine.begin() as connection:
            taken = await connection.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == "queued")
                .values(status="running", worker=self.worker_id, heartbeat_at=now, attempts=JobRow.attempts + 1)
            )
            if not taken.rowcount:
                return None  # another process claimed it first
            job = (await connection.execute(select(JobRow).where(JobRow.id == job_id))).one()
            if job.attempts > self._settings.max_attempts:
                await connection.execute(
                    update(JobRow)
                    .where(JobRow.id == job_id)
                    .values(
                        status="failed",
                        worker=None,
                        finished_at=now,
                        error={"code": "too_many_attempts", "message": f"gave up after {job.attempts - 1} starts"},
                    )
                )
                await add_event(
                    connection, job_id, f"Fine-tuning failed after {job.attempts - 1} starts", level="error"
                )
            elif job.started_at is None:
                await connection.execute(update(JobRow).where(JobRow.id == job_id).values(started_at=now))
            if job.attempts <= self._settings.max_attempts:
                verb = "started" if job.attempts == 1 else f"resumed (start {job.attempts})"
                await add_event(connection, job_id, f"Fine-tuning job {verb} on {self.worker_id}")
        if job.attempts > self._settings.max_attempts:
            clean_workdir(self._workdir / job_id)
            await self._settle(job_id, None)
            return None
        return job

    # -- one job ------------------------------------------------------------------------------------------
    async def _train(self, job: Any) -> None:
        params = job.hyperparameters
        run = TrainingRun(
            job_id=job.id,
            base_model=job.model,
            base_path=self._trainable.get(job.model),
            workdir=self._workdir / job.id,
            n_epochs=params["n_epochs"],
            batch_size=params["batch_size"],
            learning_rate_multiplier=params["learning_rate_multiplier"],
            seed=job.seed,
            suffix=job.suffix,
            remote_id=job.remote_id,
        )
        progress = _Progress(self, job.id)
        try:
            trained = await self._trainer.train(run, progress.report)
        except asyncio.CancelledError:
            lost = self._lost.get(job.id)
            if lost == "cancelled":
                clean_workdir(run.workdir)
                await self._cancel_elsewhere(job.id)
                await self._settle_detached(job.id, None)
            elif lost is None:
                await self._requeue(job.id, "the service stopped")
            # taken over by another process (this one stalled past the heartbeat timeout): its files are theirs now
            raise
        except TrainingFailed as failure:
            await self._fail(job.id, "training_failed", str(failure))
        except Exception as exc:
            log.exception("fine-tuning job %s", job.id)
            await self._fail(job.id, "internal_error", f"{type(exc).__name__}: {exc}")
        else:
            await self._succeed(job, trained)
        finally:
            self._tasks.pop(job.id, None)
            self._lost.pop(job.id, None)
            self._ending.discard(job.id)

    async def _cancel_elsewhere(self, job_id: str) -> None:
        async def cancel() -> None:
            async with self._engine.begin() as connection:
                remote_id = (await connection.execute(select(JobRow.remote_id).where(JobRow.id == job_id))).scalar()
                await connection.execute(update(JobRow).where(JobRow.id == job_id).values(worker=None))
            await self._cancel_remote(job_id, remote_id)

        # its own task: the cancelled job's task may be cancelled again before the remote answers
        await asyncio.shield(asyncio.ensure_future(cancel()))

    async def _cancel_remote(self, job_id: str, remote_id: str | None) -> None:
        try:
            await self._trainer.cancel(remote_id)
        except Exception:
            log.exception("could not cancel job %s at its trainer", job_id)

    async def _succeed(self, job: Any, trained: Trained) -> None:
        name = model_name(job)
        digest = _sha256(trained.adapter) if trained.adapter else None
        self._ending.add(job.id)
        async with self._engine.begin() as connection:
            done = await connection.execute(
                update(JobRow)
                .where(JobRow.id == job.id, JobRow.status == "running", JobRow.worker == self.worker_id)
                .values(
                    status="succeeded",
                    # recorded with the status (the refund of the rest is posted just after)
                    cost=charges.final_cost(job.charged, trained.trained_tokens, self._settings.training_price),
                    fine_tuned_model=name,
                    adapter_path=str(trained.adapter) if trained.adapter else None,
                    adapter_sha256=digest,
                    remote_id=trained.upstream_model or job.remote_id,
                    trained_tokens=trained.trained_tokens,
                    worker=None,
                    finished_at=datetime.now(UTC),
                )
            )
            if not done.rowcount:
                self._ending.discard(job.id)
                return  # no longer ours: the files belong to whoever holds the job now
            await add_event(connection, job.id, f"New fine-tuned model created: {name}")
            await add_event(connection, job.id, "The job has successfully completed")
        clean_workdir(self._workdir / job.id)
        await self._settle_detached(job.id, trained.trained_tokens)

    async def _fail(self, job_id: str, code: str, message: str) -> None:
        self._ending.add(job_id)
        async with self._engine.begin() as connection:
            done = await connection.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == "running", JobRow.worker == self.worker_id)
                .values(
                    status="failed",
                    worker=None,
                    finished_at=datetime.now(UTC),
                    cost=0,
                    error={"code": code, "message": message[:2000]},
                )
            )
            if not done.rowcount:
                self._ending.discard(job_id)
                return
            await add_event(connection, job_id, f"Fine-tuning failed: {message[:2000]}", level="error")
        clean_workdir(self._workdir / job_id)
        await self._settle_detached(job_id, None)

    async def _settle_detached(self, job_id: str, trained_tokens: int | None) -> None:
        """Settle in a task of its own: a cancel of the job's task (a shutdown) does not stop a refund half-way,
        and ``stop`` waits for it."""
        settling = asyncio.ensure_future(self._settle(job_id, trained_tokens))
        self._settling.add(settling)
        settling.add_done_callback(self._settling.discard)
        await asyncio.shield(settling)

    async def _settle(self, job_id: str, trained_tokens: int | None) -> None:
        """The refund is one keyed posting, so retrying it (a busy database) can never pay twice."""
        for attempt in range(5):
            try:
                async with self._engine.connect() as connection:
                    job = (await connection.execute(select(JobRow).where(JobRow.id == job_id))).one()
                await settle(self._engine, self._billing, self._settings, job, trained_tokens)
                return
            except Exception:
                log.warning("settling fine-tuning job %s failed (attempt %d)", job_id, attempt + 1, exc_info=True)
                await asyncio.sleep(0.5 * 2**attempt)
        log.error("fine-tuning job %s is not settled: its refund is owed", job_id)

    async def _requeue(self, job_id: str, why: str) -> None:
        async with self._engine.begin() as connection:
            back = await connection.execute(
                update(JobRow)
                .where(JobRow.id == job_id, JobRow.status == "running", JobRow.worker == self.worker_id)
                .values(status="queued", worker=None)
            )
            if back.rowcount:
                await add_event(connection, job_id, f"Training paused ({why}); it resumes from its last saved state")

    async def record(
        self,
        job_id: str,
        message: str,
        *,
        level: str = "info",
        data: dict[str, Any] | None = None,
        checkpoint: dict[str, Any] | None = None,
        remote_id: str | None = None,
    ) -> None:
        async with self._engine.begin() as connection:
            await add_event(connection, job_id, message, level=level, type="metrics" if data else "message", data=data)
            if checkpoint is not None:
                await connection.execute(
                    insert(CheckpointRow).values(
                        id=f"ftckpt-{uuid.uuid4().hex[:24]}", job_id=job_id, created_at=datetime.now(UTC), **checkpoint
                    )
                )
            if remote_id is not None:
                await connection.execute(update(JobRow).where(JobRow.id == job_id).values(remote_id=remote_id))


class _Progress:
    """A trainer's reports → events, checkpoints and the remote id, for one job."""

    def __init__(self, runner: JobRunner, job_id: str) -> None:
        self._runner = runner
        self._job_id = job_id
        self._train_loss: float | None = None
        self._valid_loss: float | None = None

    async def report(self, kind: str, data: dict[str, Any]) -> None:
        record = self._runner.record
        job = self._job_id
        if kind == "started":
            resumed = f", resumed after step {data['resumed_from']}" if data.get("resumed_from") else ""
            await record(job, f"Training on {data['examples']} examples in {data['total_steps']} steps{resumed}")
        elif kind == "step":
            self._train_loss = data["loss"]
            metrics = {k: data[k] for k in ("step", "total_steps", "epoch")} | {"train_loss": data["loss"]}
            await record(
                job, f"Step {data['step']}/{data['total_steps']}: training loss={data['loss']:.4f}", data=metrics
            )
        elif kind == "eval":
            self._valid_loss = data["eval_loss"]
            metrics = {"step": data["step"], "epoch": data["epoch"], "valid_loss": data["eval_loss"]}
            await record(job, f"Step {data['step']}: validation loss={data['eval_loss']:.4f}", data=metrics)
        elif kind == "checkpoint":
            checkpoint = None
            if data.get("epoch_end"):
                checkpoint = {
                    "step": data["step"],
                    "epoch": data["epoch"],
                    "train_loss": self._train_loss,
                    "valid_loss": self._valid_loss,
                }
            await record(job, f"Saved state at step {data['step']}", checkpoint=checkpoint)
        elif kind == "remote_id":
            await record(job, f"Submitted to the remote trainer as {data['id']}", remote_id=str(data["id"]))
        elif kind == "message":
            await record(job, str(data.get("message", "")), level=str(data.get("level", "info")), data=data.get("data"))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while piece := handle.read(1 << 20):
            digest.update(piece)
    return digest.hexdigest()
