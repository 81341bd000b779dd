"""``/v1/files`` for purpose ``fine-tune``: uploads validated as chat JSONL while they stream to disk, then kept
under ``<data_dir>/files/<id>.jsonl``. A file is its uploader's (admins see all)."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.auth import Principal
from cluster.db.pages import newest_first
from cluster.errors import InvalidRequest, NotFound, PayloadTooLarge
from cluster.finetune.models import FileRow
from cluster.finetune.protocol import FileDeleted, FileList, FileObject
from cluster.finetune.validation import ChatFileCheck

PURPOSES = frozenset({"fine-tune"})
PIECE = 1 << 20


class Files:
    def __init__(self, engine: AsyncEngine, folder: Path, max_bytes: int) -> None:
        self._engine = engine
        self.folder = folder
        self._max_bytes = max_bytes
        folder.mkdir(parents=True, exist_ok=True)

    def path(self, file_id: str) -> Path:
        return self.folder / f"{file_id}.jsonl"

    async def create(
        self, owner: Principal, read: Callable[[int], Awaitable[bytes]], filename: str, purpose: str
    ) -> FileObject:
        """``read(n)`` gives the upload piece by piece; nothing is recorded unless all of it is valid."""
        if purpose not in PURPOSES:
            raise InvalidRequest(f"purpose must be one of {sorted(PURPOSES)}", param="purpose")
        file_id = f"file-{uuid.uuid4().hex[:24]}"
        partial = self.folder / f"{file_id}.partial"
        check, digest, size = ChatFileCheck(), hashlib.sha256(), 0
        try:
            with partial.open("wb") as out:
                while piece := await read(PIECE):
                    size += len(piece)
                    if size > self._max_bytes:
                        raise PayloadTooLarge(f"files are limited to {self._max_bytes} bytes")
                    check.feed(piece)
                    digest.update(piece)
                    out.write(piece)
            examples = check.finish()
            os.replace(partial, self.path(file_id))
        finally:
            partial.unlink(missing_ok=True)
        row = {
            "id": file_id,
            "user_id": owner.user_id,
            "purpose": purpose,
            "filename": filename[:255],
            "bytes": size,
            "sha256": digest.hexdigest(),
            "lines": examples,
            "created_at": datetime.now(UTC),
            "deleted": False,
        }
        async with self._engine.begin() as connection:
            await connection.execute(insert(FileRow).values(**row))
        return _object(row)

    async def get(self, caller: Principal, file_id: str) -> FileObject:
        return _object((await self._own(caller, file_id))._asdict())

    async def list(self, caller: Principal, purpose: str | None, limit: int, after: str | None) -> FileList:
        query = select(FileRow).where(FileRow.deleted.is_(False))
        if not caller.is_admin:
            query = query.where(FileRow.user_id == caller.user_id)
        if purpose is not None:
            query = query.where(FileRow.purpose == purpose)
        query = newest_first(query, FileRow.created_at, FileRow.id, after)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query.limit(limit + 1))).all()
        return FileList(data=[_object(r._asdict()) for r in rows[:limit]], has_more=len(rows) > limit)

    async def delete(self, caller: Principal, file_id: str) -> FileDeleted:
        await self._own(caller, file_id)
        async with self._engine.begin() as connection:
            await connection.execute(update(FileRow).where(FileRow.id == file_id).values(deleted=True))
        self.path(file_id).unlink(missing_ok=True)
        return FileDeleted(id=file_id)

    async def content(self, caller: Principal, file_id: str) -> Path:
        await self._own(caller, file_id)
        return self.path(file_id)

    async def _own(self, caller: Principal, file_id: str) -> Any:
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(FileRow).where(FileRow.id == file_id))).one_or_none()
        if row is None or row.deleted or (row.user_id != caller.user_id and not caller.is_admin):
            raise NotFound(f"No such File object: {file_id}", param="file_id", code="file_not_found")
        return row


def _object(row: dict[str, Any]) -> FileObject:
    return FileObject(
        id=row["id"],
        bytes=row["bytes"],
        created_at=int(row["created_at"].timestamp()),
        filename=row["filename"],
        purpose=row["purpose"],
        lines=row["lines"],
    )
