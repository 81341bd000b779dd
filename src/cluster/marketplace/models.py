"""A dataset's listing, where its sealed content is, and the key that opens it (wrapped). Which wallets belong to
which account is the auth domain's (``cluster.auth.models.WalletRow``): a wallet is also a way to sign in."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from cluster.db.base import Base


class DatasetRow(Base):
    __tablename__ = "datasets"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text)
    category: Mapped[str] = mapped_column(String(16), index=True)
    license: Mapped[str] = mapped_column(String(64))
    format: Mapped[str] = mapped_column(String(16))
    price: Mapped[int] = mapped_column(BigInteger)
    creator_id: Mapped[str] = mapped_column(String(64), index=True)
    creator_wallet: Mapped[str] = mapped_column(String(42))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    stats: Mapped[dict[str, Any]] = mapped_column(JSON)
    preview: Mapped[list[Any]] = mapped_column(JSON)
    content_cid: Mapped[str] = mapped_column(String(100))
    metadata_cid: Mapped[str] = mapped_column(String(100))
    header: Mapped[str] = mapped_column(String(64), doc="the CDE1 header, hex")
    master_id: Mapped[str] = mapped_column(String(64))
    wrapped_key: Mapped[str] = mapped_column(String(200), doc="hex")
    chain_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    token_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)
    listed: Mapped[bool] = mapped_column(Boolean)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RoyaltyPayout(Base):
    """One on-chain USDC transfer of accrued royalties to a dataset's holder. ``raw_tx`` is recorded before it is
    broadcast, so a crash mid-payout is reconciled by its hash (re-broadcast, or released), never paid twice."""

    __tablename__ = "royalty_payouts"

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    dataset_slug: Mapped[str] = mapped_column(String(64), index=True)
    token_id: Mapped[int] = mapped_column(BigInteger)
    holder: Mapped[str] = mapped_column(String(42), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
    calls: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), index=True, doc="pending, paid or failed")
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    raw_tx: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    paid_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class RoyaltyCall(Base):
    """A billed call of a derived model, and the payout that paid its dataset's share (each call once)."""

    __tablename__ = "royalty_calls"

    request_id: Mapped[str] = mapped_column(String(40), primary_key=True)
    payout_id: Mapped[str] = mapped_column(ForeignKey("royalty_payouts.id"), index=True)
    amount: Mapped[int] = mapped_column(BigInteger)
