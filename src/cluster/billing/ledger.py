"""Posting balanced transactions, exactly once, never overdrawing.

A posting moves balances (a user account may not go below zero: the guarded ``UPDATE … WHERE balance +
delta >= 0`` is the funds check, exact under concurrency on PostgreSQL's row locks and SQLite's single
writer), then records the transaction under its idempotency key and its entries. A key seen before makes
the posting a no-op, so retries never move money twice.

Group commit: postings for one account queue in a lane; one task drains the lane, applying everything queued
so far in a single database transaction. Requests of one busy account then share a commit instead of
queueing on its row lock one round trip at a time. A posting that cannot be funded writes nothing (its one
funded leg is checked first) and is refused alone; if the batch itself fails (a duplicate key, say), each
posting is replayed in a transaction of its own.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass, field
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
Step = Callable[[AsyncConnection], Awaitable[bool]]
_MAX_BATCH = 256

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


@dataclass(slots=True)
class Posting:
    key: str
    kind: str
    legs: list[tuple[str, int]]
    user_id: str | None = None
    funded: Collection[str] = ()
    memo: str | None = None
    #: runs first; False makes the posting a no-op (e.g. a hold that is no longer open)
    guard: Step | None = None
    #: runs after the balances moved (e.g. recording the hold row)
    then: Step | None = None


@dataclass(slots=True)
class _Lane:
    queue: list[tuple[Posting, asyncio.Future[bool]]] = field(default_factory=list)
    draining: bool = False


class Ledger:
    def __init__(self, engine: AsyncEngine) -> None:
        # On SQLite a posting takes the write lock at BEGIN, so its funds check cannot go stale.
        self._engine = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._lanes: dict[str, _Lane] = {}
        self._drains: set[asyncio.Task[None]] = set()

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

    async def post(self, posting: Posting, lane: str | None = None) -> bool:
        """Apply ``posting``; False when its key was used before or its guard declined. With a ``lane``
        (an account), it is group-committed with the lane's other pending postings."""
        posting.legs = [(account, amount) for account, amount in posting.legs if amount]
        if sum(amount for _, amount in posting.legs) != 0:
            raise ValueError(f"unbalanced posting {posting.key}: {posting.legs}")
        if len([a for a, amount in posting.legs if a in posting.funded and amount < 0]) > 1:
            raise ValueError("a posting may debit at most one funded account")
        if lane is None:
            return await self._alone(posting)
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        state = self._lanes.setdefault(lane, _Lane())
        state.queue.append((posting, future))
        if not state.draining:
            state.draining = True
            task = asyncio.create_task(self._drain(lane, state))
            self._drains.add(task)
            task.add_done_callback(self._drains.discard)
        # The drain runs to the end even if this caller is cancelled: money never stops half-way.
        return await asyncio.shield(future)

    async def _drain(self, lane: str, state: _Lane) -> None:
        try:
            while state.queue:
                batch, state.queue = state.queue[:_MAX_BATCH], state.queue[_MAX_BATCH:]
                await self._batch(batch)
        finally:
            state.draining = False
            if not state.queue:
                self._lanes.pop(lane, None)

    async def _batch(self, batch: list[tuple[Posting, asyncio.Future[bool]]]) -> None:
        outcomes: list[bool | BaseException] = []
        try:
            async with self._engine.begin() as connection:
                for posting, _ in batch:
                    try:
                        outcomes.append(await self._apply(connection, posting))
                    except InsufficientBalance as refused:  # it wrote nothing: the batch goes on
                        outcomes.append(refused)
        except Exception:
            outcomes = []
            for posting, _ in batch:  # replay one by one, so one bad posting fails only itself
                try:
                    outcomes.append(await self._alone(posting))
                except Exception as error:
                    outcomes.append(error)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def _alone(self, posting: Posting) -> bool:
        try:
            async with self._engine.begin() as connection:
                return await self._apply(connection, posting)
        except IntegrityError:
            # The key (or the guard's row) exists: this posting happened before, or a racing twin won and
            # ours rolled back whole.
            async with self._engine.connect() as connection:
                if await _seen(connection, posting.key):
                    return False
            raise

    async def _apply(self, connection: AsyncConnection, posting: Posting) -> bool:
        if posting.guard is not None and not await posting.guard(connection):
            return False
        # The funded leg first (so a refusal leaves nothing behind), then the others; each group in id
        # order, the same global order everywhere, so postings on shared accounts cannot deadlock.
        legs = sorted(posting.legs, key=lambda leg: (not (leg[0] in posting.funded and leg[1] < 0), leg[0]))
        for account, amount in legs:
            if account.startswith("system:"):
                continue  # system balances are summed from entries on demand: no hot row
            guarded = account in posting.funded and amount < 0
            result = await connection.execute(_DEBIT if guarded else _MOVE, {"account": account, "delta": amount})
            if result.rowcount != 1:
                raise InsufficientBalance(
                    "Your balance is too low for this request (its maximum cost is held before it runs)"
                )
        transaction_id = f"tx_{uuid.uuid4().hex}"
        magnitude = sum(amount for _, amount in posting.legs if amount > 0)
        row = {
            "id": transaction_id,
            "idempotency_key": posting.key,
            "kind": posting.kind,
            "user_id": posting.user_id,
            "amount": magnitude,
            "memo": posting.memo,
            "created_at": datetime.now(UTC),
        }
        await connection.execute(_INSERT_TRANSACTION, row)
        entries = [{"transaction_id": transaction_id, "account_id": a, "amount": amount} for a, amount in posting.legs]
        await connection.execute(_INSERT_ENTRY, entries)
        if posting.then is not None:
            await posting.then(connection)
        return True

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
