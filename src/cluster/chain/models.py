"""What the indexer keeps: where it has read up to, every event it decoded, and the projections the service
acts on (deposits to credit, dataset purchases). Rows are keyed by (chain, tx hash, log index), so reading a
block twice changes nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, DateTime, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cluster.db.base import Base


class ChainCursor(Base):
    __tablename__ = "chain_cursors"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    block_number: Mapped[int] = mapped_column(BigInteger)
    block_hash: Mapped[str] = mapped_column(String(66))
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class _LogRow:
    """Columns of a row that records one event log: unique by (chain, tx hash, log index)."""

    __table_args__ = (UniqueConstraint("chain_id", "tx_hash", "log_index"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    tx_hash: Mapped[str] = mapped_column(String(66))
    log_index: Mapped[int] = mapped_column(Integer)
    block_number: Mapped[int] = mapped_column(BigInteger, index=True)


class ChainEvent(_LogRow, Base):
    __tablename__ = "chain_events"

    block_hash: Mapped[str] = mapped_column(String(66))
    contract: Mapped[str] = mapped_column(String(42))
    event: Mapped[str] = mapped_column(String(64), index=True)
    args: Mapped[dict[str, Any]] = mapped_column(JSON)


class DepositRef(Base):
    """The 32-byte reference a user puts in ``Deposits.deposit(account, …)`` to credit their account."""

    __tablename__ = "deposit_refs"

    ref: Mapped[str] = mapped_column(String(66), primary_key=True)
    user_id: Mapped[str] = mapped_column(String(40), unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChainDeposit(_LogRow, Base):
    """A confirmed ``Deposited`` event and what became of it.

    status: ``pending`` (to credit), ``credited``, ``unmatched`` (no user has that reference yet),
    ``unpriced`` (ETH with no configured price), ``recheck`` (credited, then its block was re-orged away and
    it has not been seen again yet), ``reversed`` (gone after a re-org; its credit was taken back).
    """

    __tablename__ = "chain_deposits"

    ref: Mapped[str] = mapped_column(String(66), index=True)
    user_id: Mapped[str | None] = mapped_column(String(40), index=True, nullable=True)
    sender: Mapped[str] = mapped_column(String(42))
    token: Mapped[str] = mapped_column(String(42))
    amount: Mapped[str] = mapped_column(
        String(78), doc="base units of the token, as a decimal string (wei overflow int64)"
    )
    credited: Mapped[int | None] = mapped_column(BigInteger, nullable=True, doc="micro-USDC credited")
    status: Mapped[str] = mapped_column(String(16), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChainPurchase(_LogRow, Base):
    __tablename__ = "chain_purchases"

    dataset_id: Mapped[int] = mapped_column(BigInteger, index=True)
    buyer: Mapped[str] = mapped_column(String(42), index=True)
    referrer: Mapped[str] = mapped_column(String(42))
    beneficiary: Mapped[str] = mapped_column(String(42))
    price: Mapped[int] = mapped_column(BigInteger)
    creator_amount: Mapped[int] = mapped_column(BigInteger)
    treasury_amount: Mapped[int] = mapped_column(BigInteger)
    referrer_amount: Mapped[int] = mapped_column(BigInteger)
