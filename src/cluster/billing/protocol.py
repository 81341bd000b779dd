"""Wire models of the balance endpoints. Amounts are integer micro-USDC (1 USDC = 1,000,000)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from cluster.wire.bounds import PositiveMicroUSDC


class AdjustRequest(BaseModel):
    user_id: str
    amount: PositiveMicroUSDC
    idempotency_key: str = Field(min_length=1, max_length=160)
    memo: str | None = Field(None, max_length=200)


class BalanceObject(BaseModel):
    object: Literal["balance"] = "balance"
    user_id: str
    available: int = Field(description="micro-USDC that can be spent now")
    held: int = Field(description="micro-USDC reserved by requests in flight")
    currency: Literal["USDC"] = "USDC"
    decimals: Literal[6] = 6


class LedgerLine(BaseModel):
    created_at: int
    kind: str = Field(description="credit, debit, deposit, charge, refund, x402, capture, …")
    memo: str | None
    amount: int = Field(description="micro-USDC in (+) or out (-) of the available balance")


class LedgerHistory(BaseModel):
    object: Literal["list"] = "list"
    data: list[LedgerLine]
