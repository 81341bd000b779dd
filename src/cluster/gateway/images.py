"""Where ``response_format: url`` images live until their URL expires.

Each image is sealed with AES-256-GCM under a fresh random key that exists only in the URL handed to the caller
(``/v1/images/files/<id>?key=…``): the database (shared by every replica, so any of them serves the URL) holds
ciphertext it cannot read, no prompt appears anywhere, and the row is deleted once ``expires_at`` passes (a
sweep every minute; an expired row is refused even before that). Whoever holds the URL can fetch the image until
then, as with OpenAI's image URLs (which expire after an hour, as these do by default).
"""

from __future__ import annotations

import base64
import binascii
import os
import uuid
from datetime import UTC, datetime, timedelta

import anyio
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import LargeBinary, String, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import DateTime

from cluster.auth.times import aware
from cluster.db.base import Base
from cluster.errors import NotFound

_NONCE = 12


class GeneratedImageRow(Base):
    __tablename__ = "generated_images"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    content_type: Mapped[str] = mapped_column(String(40))
    ciphertext: Mapped[bytes] = mapped_column(LargeBinary)
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class ImageStore:
    def __init__(self, engine: AsyncEngine, ttl: float) -> None:
        self._engine = engine
        self._ttl = ttl

    @property
    def ttl(self) -> float:
        return self._ttl

    async def put(self, image: bytes, base_url: str) -> str:
        """Seal and keep ``image``; its URL (the only place its key is written)."""
        key = AESGCM.generate_key(bit_length=256)
        nonce = os.urandom(_NONCE)
        image_id = f"img-{uuid.uuid4().hex}"
        sealed = await anyio.to_thread.run_sync(lambda: AESGCM(key).encrypt(nonce, image, image_id.encode()))
        row = {
            "id": image_id,
            "content_type": content_type(image),
            "ciphertext": nonce + sealed,
            "expires_at": datetime.now(UTC) + timedelta(seconds=self._ttl),
        }
        async with self._engine.begin() as connection:
            await connection.execute(insert(GeneratedImageRow), row)
        token = base64.urlsafe_b64encode(key).decode().rstrip("=")
        return f"{base_url.rstrip('/')}/v1/images/files/{image_id}?key={token}"

    async def get(self, image_id: str, token: str) -> tuple[bytes, str]:
        """The image and its content type; an unknown, expired or wrongly keyed image is not found."""
        gone = NotFound("this image does not exist or has expired", param="image_id", code="image_not_found")
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(select(GeneratedImageRow).where(GeneratedImageRow.id == image_id))
            ).one_or_none()
        if row is None or aware(row.expires_at) <= datetime.now(UTC):
            raise gone
        try:
            key = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            sealed = row.ciphertext
            open_ = AESGCM(key).decrypt
            image = await anyio.to_thread.run_sync(lambda: open_(sealed[:_NONCE], sealed[_NONCE:], image_id.encode()))
        except (binascii.Error, ValueError, InvalidTag):
            raise gone from None
        return image, row.content_type

    async def sweep(self) -> int:
        """Delete what has expired (every minute, on every replica: deleting twice deletes nothing)."""
        async with self._engine.begin() as connection:
            result = await connection.execute(
                delete(GeneratedImageRow).where(GeneratedImageRow.expires_at <= datetime.now(UTC))
            )
        return int(result.rowcount or 0)


def content_type(image: bytes) -> str:
    """What the bytes are (an upstream may answer JPEG or WebP when asked through ``output_format``)."""
    if image.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if image[:4] == b"RIFF" and image[8:12] == b"WEBP":
        return "image/webp"
    return "image/png"
