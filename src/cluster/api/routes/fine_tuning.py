"""OpenAI's fine-tuning jobs API (``/v1/fine_tuning/jobs``), plus a marketplace dataset as the training data."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query

from cluster.api.deps import FineTuningDep, Reader, Writer, fine_tuning_enabled
from cluster.finetune.protocol import CheckpointList, EventList, FineTuningJob, JobCreate, JobList

router = APIRouter(prefix="/v1/fine_tuning", tags=["fine-tuning"], dependencies=[Depends(fine_tuning_enabled)])


@router.post("/jobs", response_model=FineTuningJob)
async def create(body: JobCreate, caller: Writer, jobs: FineTuningDep) -> FineTuningJob:
    """``training_file`` (an uploaded file) or ``dataset`` (a marketplace slug you hold access to)."""
    return await jobs.create(caller, body)


@router.get("/jobs", response_model=JobList)
async def list_jobs(
    caller: Reader, jobs: FineTuningDep, after: str | None = None, limit: int = Query(20, ge=1, le=100)
) -> JobList:
    return await jobs.list(caller, after, limit)


@router.get("/jobs/{job_id}", response_model=FineTuningJob)
async def retrieve(job_id: str, caller: Reader, jobs: FineTuningDep) -> FineTuningJob:
    return await jobs.get(caller, job_id)


@router.get("/jobs/{job_id}/events", response_model=EventList)
async def events(
    job_id: str,
    caller: Reader,
    jobs: FineTuningDep,
    after: str | None = None,
    limit: int = Query(20, ge=1, le=1000),
) -> EventList:
    """Newest first; page back with ``after`` = the last id you saw."""
    return await jobs.events(caller, job_id, after, limit)


@router.get("/jobs/{job_id}/checkpoints", response_model=CheckpointList)
async def checkpoints(
    job_id: str, caller: Reader, jobs: FineTuningDep, limit: int = Query(10, ge=1, le=100)
) -> CheckpointList:
    return await jobs.checkpoints(caller, job_id, limit)


@router.post("/jobs/{job_id}/cancel", response_model=FineTuningJob)
async def cancel(job_id: str, caller: Writer, jobs: FineTuningDep) -> FineTuningJob:
    return await jobs.cancel(caller, job_id)
