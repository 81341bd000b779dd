"""What the runner hands a trainer and gets back. A trainer is anything that turns a ``TrainingRun`` into a
servable model while reporting progress: the local LoRA worker (``local.py``), an OpenAI-compatible
fine-tuning API (``remote.py``). A GPU cluster plugs in the same way: an adapter that submits the run
(Kubernetes Job, Slurm, Ray) with the spec this package already writes, relays the worker's JSON-line
events from its log stream, and returns the adapter file it produced.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class TrainingRun:
    job_id: str
    base_model: str
    base_path: Path | None  # the base GGUF, for local training
    workdir: Path  # the job's own folder: its data, resume state and result live here
    n_epochs: int
    batch_size: int
    learning_rate_multiplier: float
    seed: int
    suffix: str | None
    remote_id: str | None = None  # a remote trainer's job id, once it has one (to resume watching it)

    @property
    def train_path(self) -> Path:
        return self.workdir / "train.jsonl"

    @property
    def validation_path(self) -> Path | None:
        path = self.workdir / "validation.jsonl"
        return path if path.exists() else None


@dataclass(frozen=True, slots=True)
class Trained:
    trained_tokens: int
    adapter: Path | None = None  # a LoRA adapter GGUF over the base (local)
    upstream_model: str | None = None  # the name a remote trainer serves the model under


#: ``report(kind, data)``: kinds are ``started``, ``step``, ``eval``, ``checkpoint``, ``message``, ``remote_id``
Report = Callable[[str, dict[str, Any]], Awaitable[None]]


class TrainingFailed(Exception):
    """The trainer gave up on this job; the message is shown to its owner."""


class Trainer(Protocol):
    async def train(self, run: TrainingRun, report: Report) -> Trained:
        """Cancelling the call stops the training this process runs (and nothing else)."""

    async def cancel(self, remote_id: str | None) -> None:
        """The job's owner cancelled it: stop what runs elsewhere too."""
