"""Posting balanced transactions. Each posting is one database transaction that first claims its
idempotency key, then moves balances (a user account may not go below zero: the guarded UPDATE is the funds
check, exact under concurrency on PostgreSQL's row locks and SQLite's single writer), then writes entries.
A key seen before makes the posting a no-op, so retries never move money twice."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from datetime import UTC, datetime

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cluster.billing.models import LedgerAccount, LedgerEntry, LedgerTransaction
from cluster.db.engine import insert_ignore
from cluster.errors import InsufficientBalance

REVENUE = "system:revenue"
EXTERNAL = "system:external"
Legs = Sequence[tuple[str, int]]

# Built once: compiled once, whatever the parameters.
_INSERT_TRANSACTION = insert(LedgerTransaction)
_INSERT_ENTRY = insert(LedgerEntry)
_MOVE = (
    update(LedgerAccount)
    .where(LedgerAccount.id == bindparam("account"))
    .values(balance=LedgerAccount.balance + bindparam("delta"))
)
_DEBIT = _MOVE.where(LedgerAccount.balance + bindparam("delta") >= 0)


def available(user_id: str) -> str:
    return f"user:{user_id}:available"


def held(user_id: str) -> str:
    return f"user:{user_id}:held"


class Ledger:
    def __init__(self, engine: AsyncEngine) -> None:
        # On SQLite a posting takes the write lock at BEGIN, so its funds check cannot go stale.
        self._engine = engine.execution_options(sqlite_begin="IMMEDIATE")

    async def ensure_accounts(self, user_id: str | None = None) -> None:
        now = datetime.now(UTC)
        rows = [{"id": REVENUE, "kind": "revenue"}, {"id": EXTERNAL, "kind": "external"}]
        if user_id is not None:
            rows = [
                {"id": available(user_id), "kind": "available", "user_id": user_id},
                {"id": held(user_id), "kind": "held", "user_id": user_id},
            ]
        async with self._engine.begin() as connection:
            table: Table = LedgerAccount.__table__  # type: ignore[assignment]
            stmt = insert_ignore(connection.dialect.name, table)
            await connection.execute(stmt, [{"balance": 0, "created_at": now, "user_id": None, **r} for r in rows])

    async def post(
        self,
        key: str,
        kind: str,
        legs: Legs,
        *,
        user_id: str | None = None,
        funded: Collection[str] = (),
        memo: str | None = None,
        guard: Callable[[AsyncConnection], Awaitable[bool]] | None = None,
    ) -> bool:
        """Apply one balanced transaction; False when ``key`` was used before or ``guard`` declines."""
        legs = [(account, amount) for account, amount in legs if amount]
        if sum(amount for _, amount in legs) != 0:
            raise ValueError(f"unbalanced posting {key}: {legs}")
        try:
            async with self._engine.begin() as connection:
                if guard is not None and not await guard(connection):
                    return False
                await self._apply(connection, key, kind, legs, user_id, funded, memo)
                return True
        except IntegrityError:
            # The key (or the guard's row) exists: this posting happened before, or a racing twin won and
            # ours rolled back whole.
            async with self._engine.connect() as connection:
                if await _seen(connection, key):
                    return False
            raise

    async def _apply(
        self,
        connection: AsyncConnection,
        key: str,
        kind: str,
        legs: Legs,
        user_id: str | None,
        funded: Collection[str],
        memo: str | None,
    ) -> None:
        transaction_id = f"tx_{uuid.uuid4().hex}"
        magnitude = sum(amount for _, amount in legs if amount > 0)
        row = {"id": transaction_id, "idempotency_key": key, "kind": kind, "user_id": user_id,
               "amount": magnitude, "memo": memo, "created_at": datetime.now(UTC)}  # fmt: skip
        await connection.execute(_INSERT_TRANSACTION, row)
        entries = [{"transaction_id": transaction_id, "account_id": a, "amount": amount} for a, amount in legs]
        await connection.execute(_INSERT_ENTRY, entries)
        # Balance rows are touched last, so their locks are held only until the commit, and in one global
        # order (by id), so two postings on the same accounts cannot deadlock.
        for account, amount in sorted(legs):
            if account.startswith("system:"):
                continue  # system balances are summed from entries on demand: no hot row
            guarded = account in funded and amount < 0
            result = await connection.execute(_DEBIT if guarded else _MOVE, {"account": account, "delta": amount})
            if result.rowcount != 1:
                raise InsufficientBalance(
                    "Your balance is too low for this request (its maximum cost is held before it runs)"
                )

    async def balances(self, user_id: str) -> tuple[int, int]:
        async with self._engine.connect() as connection:
            rows = dict(
                (
                    await connection.execute(
                        select(LedgerAccount.id, LedgerAccount.balance).where(LedgerAccount.user_id == user_id)
                    )
                ).all()
            )
        return rows.get(available(user_id), 0), rows.get(held(user_id), 0)


async def _seen(connection: AsyncConnection, key: str) -> bool:
    found = await connection.execute(select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == key))
    return found.first() is not None
