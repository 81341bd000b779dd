"""The local trainer: one worker process per job (``python -m cluster.finetune.lora.train``), so training never
blocks the event loop and a crash in torch cannot take the service down. Cancelling the task kills the worker;
the worker exits by itself if the service dies (it watches its parent)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
from pathlib import Path
from typing import Any

from cluster.finetune.lora.train import TrainSpec
from cluster.finetune.trainer import Report, Trained, TrainingFailed, TrainingRun
from cluster.settings import FineTuneSettings

_EXIT_GRACE = 5.0


class LocalTrainer:
    def __init__(self, settings: FineTuneSettings, base_cache: Path) -> None:
        self._settings = settings
        self._base_cache = base_cache

    def spec(self, run: TrainingRun) -> TrainSpec:
        assert run.base_path is not None
        settings = self._settings
        validation = run.validation_path
        return TrainSpec(
            base_dir=str(run.base_path.parent),
            base_file=run.base_path.name,
            train_path=str(run.train_path),
            validation_path=str(validation) if validation else None,
            out_dir=str(run.workdir),
            n_epochs=run.n_epochs,
            batch_size=run.batch_size,
            learning_rate=settings.learning_rate * run.learning_rate_multiplier,
            rank=settings.lora_rank,
            alpha=settings.lora_alpha,
            max_length=settings.max_length,
            seed=run.seed,
            checkpoint_every=settings.checkpoint_every,
            threads=settings.threads,
            base_cache=str(self._base_cache),
        )

    async def cancel(self, remote_id: str | None) -> None:
        """Nothing outlives the worker process, which the cancelled ``train`` has already stopped."""

    async def train(self, run: TrainingRun, report: Report) -> Trained:
        spec_path = run.workdir / "spec.json"
        self.spec(run).dump(spec_path)
        with (run.workdir / "worker.log").open("ab") as log:
            worker = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "cluster.finetune.lora.train",
                str(spec_path),
                stdout=asyncio.subprocess.PIPE,
                stderr=log,
                limit=1 << 20,
            )
        try:
            done, failure = await _relay(worker, report)
            code = await worker.wait()
        except BaseException:
            await _stop(worker)
            raise
        if done is None or code != 0:
            raise TrainingFailed(failure or _tail(run.workdir / "worker.log") or f"worker exited with {code}")
        return Trained(trained_tokens=int(done["trained_tokens"]), adapter=Path(done["adapter"]))


async def _relay(worker: asyncio.subprocess.Process, report: Report) -> tuple[dict[str, Any] | None, str | None]:
    """The worker's events until it closes stdout: (its ``done`` event, its ``error`` message)."""
    assert worker.stdout is not None
    done, failure = None, None
    async for line in worker.stdout:
        try:
            event = json.loads(line)
        except ValueError:
            continue  # a library printing to stdout
        kind = event.pop("type", None)
        if kind == "done":
            done = event
        elif kind == "error":
            failure = str(event.get("message"))
        elif isinstance(kind, str):
            await report(kind, event)
    return done, failure


async def _stop(worker: asyncio.subprocess.Process) -> None:
    if worker.returncode is not None:
        return
    worker.terminate()
    try:
        await asyncio.wait_for(worker.wait(), _EXIT_GRACE)
    except TimeoutError:
        with contextlib.suppress(ProcessLookupError):
            worker.kill()
        await worker.wait()


def _tail(log: Path, lines: int = 5) -> str:
    try:
        text = log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return " | ".join(text[-lines:])
