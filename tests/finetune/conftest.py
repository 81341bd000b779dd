"""Fine-tuning against the real local trainer (torch, the bundled SmolLM2 GGUF) and the real API."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest

from cluster.settings import Settings
from tests.conftest import Secured, make_settings, secured_app

# De-quantized copies of the base GGUF (keyed by the file): made once per machine, like the wheel cache.
BASE_CACHE = Path(os.environ.get("CLUSTER_TEST_BASE_CACHE", Path.home() / ".cache" / "cluster" / "finetune-bases"))
TERMINAL = ("succeeded", "failed", "cancelled")


def ft_settings(data_dir: Path, **extra: Any) -> Settings:
    finetune = {"poll_interval": 0.2, "base_cache": str(BASE_CACHE), "checkpoint_every": 2, **extra.pop("finetune", {})}
    return make_settings(data_dir, auth={"required": True}, finetune=finetune, **extra)


@contextlib.asynccontextmanager
async def running(settings: Settings, bootstrap: bool = True) -> AsyncIterator[Secured]:
    """One app's lifetime (a failing test inside still runs its shutdown)."""
    apps = secured_app(settings, bootstrap)
    try:
        yield await anext(apps)
    finally:
        await apps.aclose()


@pytest.fixture
async def api(tmp_path: Path, database_url: str) -> AsyncIterator[Secured]:
    """The API with keys and no trainer running (jobs stay queued), on SQLite and on PostgreSQL."""
    async for app in secured_app(ft_settings(tmp_path, database_url=database_url, finetune={"run_jobs": False})):
        yield app


def openai_client(app: Secured, key: str) -> openai.AsyncOpenAI:
    """The official client, in-process (ASGI), unchanged."""
    transport = httpx.ASGITransport(app=app.app)  # type: ignore[arg-type]
    http = httpx.AsyncClient(transport=transport, base_url="http://cluster/v1", timeout=60)
    return openai.AsyncOpenAI(api_key=key, base_url="http://cluster/v1", http_client=http, max_retries=0)


async def wait_for(http: httpx.AsyncClient, job_id: str, key: str, until: Any, within: float = 600) -> dict[str, Any]:
    """Poll the job until ``until(job)``; the job's events are printed if it does not get there."""
    headers = {"authorization": f"Bearer {key}"}
    job: dict[str, Any] = {}
    ended = 0
    for _ in range(int(within / 0.2)):
        job = (await http.get(f"/v1/fine_tuning/jobs/{job_id}", headers=headers)).json()
        if until(job):
            return job
        ended += job.get("status") in TERMINAL
        if ended > 10:  # ended, and still not what we wait for (a refund lands just after the status)
            break
        await asyncio.sleep(0.2)
    events = (await http.get(f"/v1/fine_tuning/jobs/{job_id}/events?limit=1000", headers=headers)).json()
    messages = [e["message"] for e in reversed(events["data"])]
    raise AssertionError(f"job {job_id} ended or stalled at {job.get('status')}: {job.get('error')}\n{messages}")


async def messages(http: httpx.AsyncClient, job_id: str, key: str) -> list[str]:
    """The job's event messages, oldest first."""
    headers = {"authorization": f"Bearer {key}"}
    events = (await http.get(f"/v1/fine_tuning/jobs/{job_id}/events?limit=1000", headers=headers)).json()
    return [e["message"] for e in reversed(events["data"])]
