"""OpenAI's fine-tuning jobs API (``/v1/fine_tuning/jobs``), plus a marketplace dataset as the training data."""

from __future__ import annotations

from fastapi import APIRouter, Query

from cluster.api.deps import Reader, ServicesDep, Writer
from cluster.errors import ServiceUnavailable
from cluster.finetune.protocol import CheckpointList, EventList, FineTuningJob, JobCreate, JobList
from cluster.finetune.service import FineTuning
from cluster.services import Services

router = APIRouter(prefix="/v1/fine_tuning", tags=["fine-tuning"])


def _jobs(services: Services) -> FineTuning:
    if services.fine_tuning is None:
        raise ServiceUnavailable("fine-tuning is disabled on this server (finetune.enabled = false)")
    return services.fine_tuning


@router.post("/jobs", response_model=FineTuningJob)
async def create(body: JobCreate, caller: Writer, services: ServicesDep) -> FineTuningJob:
    """``training_file`` (an uploaded file) or ``dataset`` (a marketplace slug you hold access to)."""
    return await _jobs(services).create(caller, body)


@router.get("/jobs", response_model=JobList)
async def list_jobs(
    caller: Reader, services: ServicesDep, after: str | None = None, limit: int = Query(20, ge=1, le=100)
) -> JobList:
    return await _jobs(services).list(caller, after, limit)


@router.get("/jobs/{job_id}", response_model=FineTuningJob)
async def retrieve(job_id: str, caller: Reader, services: ServicesDep) -> FineTuningJob:
    return await _jobs(services).get(caller, job_id)


@router.get("/jobs/{job_id}/events", response_model=EventList)
async def events(
    job_id: str,
    caller: Reader,
    services: ServicesDep,
    after: str | None = None,
    limit: int = Query(20, ge=1, le=1000),
) -> EventList:
    """Newest first; page back with ``after`` = the last id you saw."""
    return await _jobs(services).events(caller, job_id, after, limit)


@router.get("/jobs/{job_id}/checkpoints", response_model=CheckpointList)
async def checkpoints(
    job_id: str, caller: Reader, services: ServicesDep, limit: int = Query(10, ge=1, le=100)
) -> CheckpointList:
    return await _jobs(services).checkpoints(caller, job_id, limit)


@router.post("/jobs/{job_id}/cancel", response_model=FineTuningJob)
async def cancel(job_id: str, caller: Writer, services: ServicesDep) -> FineTuningJob:
    return await _jobs(services).cancel(caller, job_id)
