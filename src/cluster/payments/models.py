"""Every x402 payment the gateway accepted: reserved before serving (the row's uniqueness on
(chain, payer, nonce) is what stops one authorization being in flight twice, across processes), then
settled or failed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from cluster.db.base import Base


class X402PaymentRow(Base):
    __tablename__ = "x402_payments"
    __table_args__ = (UniqueConstraint("chain_id", "payer", "nonce"),)

    id: Mapped[str] = mapped_column(String(40), primary_key=True)
    chain_id: Mapped[int] = mapped_column(BigInteger)
    payer: Mapped[str] = mapped_column(String(42), index=True)
    nonce: Mapped[str] = mapped_column(String(66))
    value: Mapped[int] = mapped_column(BigInteger)
    pay_to: Mapped[str] = mapped_column(String(42))
    request_id: Mapped[str | None] = mapped_column(String(40), index=True, nullable=True)
    status: Mapped[str] = mapped_column(String(16), index=True, doc="reserved, settled or failed")
    tx_hash: Mapped[str | None] = mapped_column(String(66), nullable=True)
    cost: Mapped[int | None] = mapped_column(BigInteger, nullable=True, doc="micro-USDC charged for the request")
    error: Mapped[str | None] = mapped_column(String(200), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
