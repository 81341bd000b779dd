"""On-chain deposits → ledger credits, exactly once.

Each user gets a 32-byte deposit reference (``keccak256("cluster-deposit:" + user id)``) to pass to
``Deposits.deposit``. The indexer records every confirmed ``Deposited`` event as a ``chain_deposits`` row
(unique by tx hash and log index); this module credits the pending ones. The credit's idempotency key is the
event's own (chain, tx, log index), so a crash between crediting and marking the row credited just means the
next pass posts a no-op: a deposit is credited once however often its block is read.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any

from eth_utils.crypto import keccak
from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.billing import BillingService
from cluster.billing.protocol import AdjustRequest
from cluster.chain.models import ChainDeposit, DepositRef
from cluster.db.engine import insert_ignore
from cluster.errors import InsufficientBalance

log = logging.getLogger(__name__)

ETH = "0x0000000000000000000000000000000000000000"
WEI_PER_ETH = 10**18


def deposit_ref(user_id: str) -> str:
    return "0x" + keccak(f"cluster-deposit:{user_id}".encode()).hex()


class DepositBook:
    def __init__(self, engine: AsyncEngine, billing: BillingService, *, usdc: str, eth_price: int | None) -> None:
        self._engine = engine
        self._billing = billing
        self._usdc = usdc.lower()
        self._eth_price = eth_price

    async def reference_for(self, user_id: str) -> str:
        """The user's deposit reference; deposits already made with it are matched to the user now."""
        ref = deposit_ref(user_id)
        async with self._engine.begin() as connection:
            statement = insert_ignore(connection.dialect.name, DepositRef.__table__)  # type: ignore[arg-type]
            await connection.execute(statement.values(ref=ref, user_id=user_id, created_at=datetime.now(UTC)))
            await connection.execute(
                update(ChainDeposit)
                .where(ChainDeposit.ref == ref, ChainDeposit.status == "unmatched")
                .values(user_id=user_id, status="pending")
            )
        return ref

    def credit_for(self, token: str, amount: int) -> int | None:
        """Micro-USDC to credit for ``amount`` of ``token``; None when it cannot be priced."""
        if token.lower() == self._usdc:
            return amount  # USDC has 6 decimals: base units are micro-USDC
        if token.lower() == ETH and self._eth_price is not None:
            return amount * self._eth_price // WEI_PER_ETH
        return None

    async def credit_pending(self) -> int:
        """Credit every pending deposit (concurrently: the ledger queues each user's postings in its own lane);
        returns how many were credited. Statuses are written together afterwards; one that fails to be written
        leaves its row pending, to be credited again as a no-op."""
        async with self._engine.connect() as connection:
            rows = (await connection.execute(select(ChainDeposit).where(ChainDeposit.status == "pending"))).all()
        outcomes = await asyncio.gather(*(self._credit(row) for row in rows), return_exceptions=True)
        settled = [outcome for outcome in outcomes if isinstance(outcome, dict)]
        if settled:
            await self._mark(settled)
        failures = [outcome for outcome in outcomes if isinstance(outcome, BaseException)]
        if failures:
            raise failures[0]
        return sum(1 for outcome in settled if outcome["new_status"] == "credited")

    async def _mark(self, settled: list[dict[str, Any]]) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(ChainDeposit)
                .where(ChainDeposit.id == bindparam("row_id"))
                .values(status=bindparam("new_status"), credited=bindparam("credited_amount")),
                settled,
            )

    async def _credit(self, row: Any) -> dict[str, Any]:
        amount = self.credit_for(row.token, int(row.amount))
        if not amount or row.user_id is None:
            return {"row_id": row.id, "new_status": "unpriced", "credited_amount": None}
        await self._billing.post_credit(
            AdjustRequest(
                user_id=row.user_id,
                amount=amount,
                idempotency_key=_key("deposit", row.chain_id, row.tx_hash, row.log_index),
                memo=f"on-chain deposit {row.tx_hash}",
            )
        )
        return {"row_id": row.id, "new_status": "credited", "credited_amount": amount}

    async def reverse(self, row_id: int) -> None:
        """Take back the credit of a deposit whose block was re-orged away and never came back."""
        async with self._engine.connect() as connection:
            row = (await connection.execute(select(ChainDeposit).where(ChainDeposit.id == row_id))).one()
        if row.user_id is not None and row.credited:
            try:
                await self._billing.debit(
                    AdjustRequest(
                        user_id=row.user_id,
                        amount=row.credited,
                        idempotency_key=_key("deposit-reorg", row.chain_id, row.tx_hash, row.log_index),
                        memo=f"re-orged deposit {row.tx_hash}",
                    )
                )
            except InsufficientBalance:
                log.error("re-orged deposit %s: user %s already spent the credit", row.tx_hash, row.user_id)
        log.warning("deposit %s:%s was re-orged away; its credit is reversed", row.tx_hash, row.log_index)
        await self._set_status(row_id, "reversed", row.credited)

    async def _set_status(self, row_id: int, status: str, credited: int | None) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(
                update(ChainDeposit).where(ChainDeposit.id == row_id).values(status=status, credited=credited)
            )


def _key(kind: str, chain_id: int, tx_hash: str, log_index: int) -> str:
    return f"{kind}:{chain_id}:{tx_hash}:{log_index}"
