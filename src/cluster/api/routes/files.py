"""OpenAI's Files API, for fine-tuning data: ``POST /v1/files`` (multipart ``file`` + ``purpose``), list, read,
content, delete."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse

from cluster.api.deps import FineTuningDep, Reader, Writer, fine_tuning_enabled
from cluster.errors import InvalidRequest
from cluster.finetune.protocol import FileDeleted, FileList, FileObject

# Files are fine-tuning's training data: the API is off with it.
router = APIRouter(prefix="/v1", tags=["files"], dependencies=[Depends(fine_tuning_enabled)])


@router.post("/files", response_model=FileObject)
async def upload(request: Request, caller: Writer, jobs: FineTuningDep) -> FileObject:
    """Streamed to disk and validated line by line as it arrives; nothing is kept unless all of it is valid."""
    form = await request.form(max_files=1, max_fields=4)
    upload, purpose = form.get("file"), form.get("purpose")
    if not isinstance(upload, UploadFile):
        raise InvalidRequest("send the file as the multipart field `file`", param="file")
    if not isinstance(purpose, str):
        raise InvalidRequest("the multipart field `purpose` is required ('fine-tune')", param="purpose")
    try:
        return await jobs.files.create(caller, upload.read, upload.filename or "upload.jsonl", purpose)
    finally:
        await upload.close()


@router.get("/files", response_model=FileList)
async def list_files(
    caller: Reader,
    jobs: FineTuningDep,
    purpose: str | None = None,
    limit: int = Query(100, ge=1, le=10_000),
    after: str | None = None,
) -> FileList:
    return await jobs.files.list(caller, purpose, limit, after)


@router.get("/files/{file_id}", response_model=FileObject)
async def retrieve(file_id: str, caller: Reader, jobs: FineTuningDep) -> FileObject:
    return await jobs.files.get(caller, file_id)


@router.get("/files/{file_id}/content")
async def content(file_id: str, caller: Reader, jobs: FineTuningDep) -> FileResponse:
    return FileResponse(await jobs.files.content(caller, file_id), media_type="application/jsonl")


@router.delete("/files/{file_id}", response_model=FileDeleted)
async def delete(file_id: str, caller: Writer, jobs: FineTuningDep) -> FileDeleted:
    return await jobs.files.delete(caller, file_id)
