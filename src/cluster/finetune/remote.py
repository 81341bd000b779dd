"""The remote trainer: forward a job to any OpenAI-compatible fine-tuning API (OpenAI itself, or another
Cluster) and relay its events. The resulting model is served by that upstream; the job keeps the upstream's
model name (``remote_id`` after success) and ``cluster.finetune.deployed`` routes the ``ft:`` name to it.

A job resumed after a restart keeps watching the remote job it already submitted (its id was recorded as
soon as the upstream gave it) instead of submitting it again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import aiohttp

from cluster.finetune.trainer import Report, Trained, TrainingFailed, TrainingRun
from cluster.settings import FineTuneSettings

_TRANSIENT = (aiohttp.ClientError, TimeoutError, ValueError)  # ValueError: a body that is not JSON


class RemoteTrainer:
    def __init__(self, settings: FineTuneSettings) -> None:
        if not settings.remote_url:
            raise ValueError("finetune.trainer = remote needs finetune.remote_url")
        self._url = settings.remote_url.rstrip("/")
        self._key = settings.remote_key.get_secret_value() if settings.remote_key else None
        self._poll = max(settings.poll_interval, 1.0)

    async def train(self, run: TrainingRun, report: Report) -> Trained:
        headers = {"authorization": f"Bearer {self._key}"} if self._key else {}
        async with aiohttp.ClientSession(headers=headers, timeout=aiohttp.ClientTimeout(total=600)) as http:
            remote_id = run.remote_id
            if remote_id is None:
                remote_id = await self._submit(http, run)
                await report("remote_id", {"id": remote_id})
            return await self._watch(http, remote_id, report, skip_backlog=run.remote_id is not None)

    async def cancel(self, remote_id: str | None) -> None:
        if remote_id is None:
            return
        headers = {"authorization": f"Bearer {self._key}"} if self._key else {}
        async with aiohttp.ClientSession(headers=headers) as http:
            await self._call(http, "POST", f"/fine_tuning/jobs/{remote_id}/cancel")

    async def _submit(self, http: aiohttp.ClientSession, run: TrainingRun) -> str:
        training = await self._upload(http, run.train_path.read_bytes(), "train.jsonl")
        validation = None
        if run.validation_path is not None:
            validation = await self._upload(http, run.validation_path.read_bytes(), "validation.jsonl")
        body: dict[str, Any] = {
            "model": run.base_model,
            "training_file": training,
            "hyperparameters": {
                "n_epochs": run.n_epochs,
                "batch_size": run.batch_size,
                "learning_rate_multiplier": run.learning_rate_multiplier,
            },
            "seed": run.seed,
        }
        if validation:
            body["validation_file"] = validation
        if run.suffix:
            body["suffix"] = run.suffix
        job = await self._call(http, "POST", "/fine_tuning/jobs", json=body)
        return str(job["id"])

    async def _upload(self, http: aiohttp.ClientSession, content: bytes, filename: str) -> str:
        def form() -> aiohttp.FormData:  # a sent form cannot be sent again: one per attempt
            data = aiohttp.FormData()
            data.add_field("purpose", "fine-tune")
            data.add_field("file", content, filename=filename, content_type="application/jsonl")
            return data

        created = await self._call(http, "POST", "/files", form=form)
        return str(created["id"])

    async def _watch(
        self, http: aiohttp.ClientSession, remote_id: str, report: Report, *, skip_backlog: bool
    ) -> Trained:
        seen: set[str] | None = None if skip_backlog else set()
        while True:
            events = (await self._call(http, "GET", f"/fine_tuning/jobs/{remote_id}/events?limit=100"))["data"]
            if seen is None:  # resumed: what was relayed before the restart is already recorded
                seen = {e["id"] for e in events}
            for event in reversed(events):  # the API lists newest first
                if event["id"] not in seen:
                    seen.add(event["id"])
                    await report(
                        "message",
                        {
                            "message": f"[remote] {event['message']}",
                            "level": event.get("level", "info"),
                            "data": event.get("data"),
                        },
                    )
            job = await self._call(http, "GET", f"/fine_tuning/jobs/{remote_id}")
            if job["status"] == "succeeded":
                return Trained(
                    trained_tokens=int(job.get("trained_tokens") or 0), upstream_model=job["fine_tuned_model"]
                )
            if job["status"] in ("failed", "cancelled"):
                error = (job.get("error") or {}).get("message") or job["status"]
                raise TrainingFailed(f"the remote trainer's job {remote_id} {job['status']}: {error}")
            await asyncio.sleep(self._poll)

    async def _call(
        self,
        http: aiohttp.ClientSession,
        method: str,
        path: str,
        *,
        json: Any = None,
        form: Callable[[], aiohttp.FormData] | None = None,
    ) -> Any:
        """Transport errors and 5xx are retried (the remote may restart); a 4xx is the job's failure."""
        for attempt in range(5):
            try:
                data = form() if form else None
                async with http.request(method, self._url + path, json=json, data=data) as response:
                    if response.status < 500:  # a 5xx (often a proxy's HTML page) is retried below
                        body = await response.json(content_type=None)
                        if response.status < 400:
                            return body
                        message = (body or {}).get("error", {}).get("message", response.reason)
                        raise TrainingFailed(f"the remote trainer refused {method} {path}: {message}")
            except _TRANSIENT:
                pass
            await asyncio.sleep(min(30.0, self._poll * 2**attempt))
        raise TrainingFailed(f"the remote trainer at {self._url} did not answer {method} {path}")
