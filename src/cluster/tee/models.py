"""Receipts of confidential responses, and the attestations they were verified against (each stored once)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from cluster.db.base import Base


class ReceiptRow(Base):
    __tablename__ = "tee_receipts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    user_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    attestation_digest: Mapped[str] = mapped_column(String(64), index=True)
    body: Mapped[dict[str, Any]] = mapped_column(JSON)


class AttestationRow(Base):
    __tablename__ = "tee_attestations"

    digest: Mapped[str] = mapped_column(String(64), primary_key=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    bundle: Mapped[dict[str, Any]] = mapped_column(JSON)
