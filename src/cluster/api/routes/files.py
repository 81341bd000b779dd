"""OpenAI's Files API, for fine-tuning data: ``POST /v1/files`` (multipart ``file`` + ``purpose``), list, read,
content, delete."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.datastructures import UploadFile
from starlette.responses import FileResponse

from cluster.api.deps import Reader, ServicesDep, Writer
from cluster.errors import InvalidRequest, ServiceUnavailable
from cluster.finetune.files import Files
from cluster.finetune.protocol import FileDeleted, FileList, FileObject
from cluster.services import Services

router = APIRouter(prefix="/v1", tags=["files"])


def _files(services: Services) -> Files:
    if services.fine_tuning is None:
        raise ServiceUnavailable("fine-tuning is disabled on this server (finetune.enabled = false)")
    return services.fine_tuning.files


@router.post("/files", response_model=FileObject)
async def upload(request: Request, caller: Writer, services: ServicesDep) -> FileObject:
    """Streamed to disk and validated line by line as it arrives; nothing is kept unless all of it is valid."""
    files = _files(services)
    form = await request.form(max_files=1, max_fields=4)
    upload, purpose = form.get("file"), form.get("purpose")
    if not isinstance(upload, UploadFile):
        raise InvalidRequest("send the file as the multipart field `file`", param="file")
    if not isinstance(purpose, str):
        raise InvalidRequest("the multipart field `purpose` is required ('fine-tune')", param="purpose")
    try:
        return await files.create(caller, upload.read, upload.filename or "upload.jsonl", purpose)
    finally:
        await upload.close()


@router.get("/files", response_model=FileList)
async def list_files(
    caller: Reader,
    services: ServicesDep,
    purpose: str | None = None,
    limit: int = Query(100, ge=1, le=10_000),
    after: str | None = None,
) -> FileList:
    return await _files(services).list(caller, purpose, limit, after)


@router.get("/files/{file_id}", response_model=FileObject)
async def retrieve(file_id: str, caller: Reader, services: ServicesDep) -> FileObject:
    return await _files(services).get(caller, file_id)


@router.get("/files/{file_id}/content")
async def content(file_id: str, caller: Reader, services: ServicesDep) -> FileResponse:
    return FileResponse(await _files(services).content(caller, file_id), media_type="application/jsonl")


@router.delete("/files/{file_id}", response_model=FileDeleted)
async def delete(file_id: str, caller: Writer, services: ServicesDep) -> FileDeleted:
    return await _files(services).delete(caller, file_id)
