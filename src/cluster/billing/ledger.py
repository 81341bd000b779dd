"""Posting balanced transactions, exactly once, never overdrawing.

A posting moves balances (a user account may not go below zero: the guarded ``UPDATE … WHERE balance +
delta >= 0`` is the funds check, exact under concurrency on PostgreSQL's row locks and SQLite's single
writer), then records the transaction under its idempotency key and its entries. A key seen before makes
the posting a no-op, so retries never move money twice.

Group commit: postings for one account queue in a lane; one task drains the lane, applying everything queued
so far in a single database transaction, set-wise (hold flips in one statement, the moves that cannot fail
summed per account, funds checks one by one, rows inserted with executemany). Requests of one busy account
then share a commit instead of queueing on its row lock one round trip at a time. A posting that cannot be
funded writes nothing and is refused alone; if the batch itself fails (a duplicate key, say), each posting
is replayed in a transaction of its own.
"""

from __future__ import annotations

import asyncio
import sys
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cluster.billing import pg_posting
from cluster.billing.models import Hold, LedgerAccount, LedgerEntry, LedgerTransaction
from cluster.billing.posting import EXTERNAL, REVENUE, Posting, available, held, refusal
from cluster.db.engine import insert_ignore
from cluster.errors import InsufficientBalance

_MAX_BATCH = 256
_DEADLOCK_RETRIES = 5

# Built once: compiled once, whatever the parameters.
_INSERT_TRANSACTION = insert(LedgerTransaction)
_INSERT_ENTRY = insert(LedgerEntry)
_MOVE = (
    update(LedgerAccount)
    .where(LedgerAccount.id == bindparam("account"))
    .values(balance=LedgerAccount.balance + bindparam("delta"))
)
_DEBIT = _MOVE.where(LedgerAccount.balance + bindparam("delta") >= 0)
_INSERT_HOLD = insert(Hold)
_ADJUST_HOLD = (
    update(Hold)
    .where(Hold.id == bindparam("hold"), Hold.status == "open", Hold.amount + bindparam("delta") >= 0)
    .values(amount=Hold.amount + bindparam("delta"), expires_at=bindparam("expires"))
)


@dataclass(slots=True)
class _Lane:
    queue: list[tuple[Posting, asyncio.Future[bool]]] = field(default_factory=list)
    draining: bool = False


class Ledger:
    def __init__(self, engine: AsyncEngine) -> None:
        # On SQLite a posting takes the write lock at BEGIN, so its funds check cannot go stale.
        self._engine = engine.execution_options(sqlite_begin="IMMEDIATE")
        self._autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        self._lanes: dict[str, _Lane] = {}
        self._drains: set[asyncio.Task[None]] = set()
        self._ensured: set[str | None] = set()

    async def ensure_accounts(self, user_id: str | None = None) -> None:
        if user_id in self._ensured:  # accounts are never deleted: once made, always there
            return
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
        self._ensured.add(user_id)

    async def post(self, posting: Posting, lane: str | None = None) -> bool:
        """Apply ``posting``; False when its key was used before or the hold it closes is no longer open.
        With a ``lane`` (an account), it is group-committed with the lane's other pending postings."""
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
                batch = _take_batch(state)
                try:
                    await self._batch(batch)
                except BaseException as error:  # no caller may wait forever on a posting
                    _settle_futures(batch, [error] * len(batch))
                    if not isinstance(error, Exception):
                        raise
        finally:
            state.draining = False
            if not state.queue:
                self._lanes.pop(lane, None)
            elif not isinstance(sys.exc_info()[1], Exception | None):  # cancelled at shutdown: nobody waits forever
                _settle_futures(state.queue, [RuntimeError("ledger shut down")] * len(state.queue))
                state.queue = []

    async def _batch(self, batch: list[tuple[Posting, asyncio.Future[bool]]]) -> None:
        postings = [posting for posting, _ in batch]
        if self._engine.dialect.name == "postgresql" and len(postings) == 1:
            _settle_futures(batch, await self._in_one_statement(postings[0]))
            return
        try:
            async with self._engine.begin() as connection:
                outcomes = await self._apply_all(connection, postings)
        except Exception:
            outcomes = []
            for posting in postings:  # replay one by one, so one bad posting fails only itself
                try:
                    outcomes.append(await self._alone(posting))
                except Exception as error:
                    outcomes.append(error)
        _settle_futures(batch, outcomes)

    async def _in_one_statement(self, posting: Posting) -> list[bool | BaseException]:
        """PostgreSQL, a lone posting (an account with nothing else queued): one autocommitted statement, one
        round trip. Busier lanes take the set-wise batch below, which shares one commit."""
        async with self._autocommit.connect() as connection:
            for attempt in range(_DEADLOCK_RETRIES):
                try:
                    return [await _outcome(pg_posting.post(connection, posting))]
                except IntegrityError as error:  # its idempotency key exists: it happened before
                    return [False if await _seen(connection, posting.key) else error]
                except DBAPIError as error:
                    if "deadlock" not in str(error).lower() or attempt + 1 == _DEADLOCK_RETRIES:
                        return [error]
                    # another process locked the same rows in the other order: again
        raise AssertionError("unreachable")

    async def _apply_all(self, connection: AsyncConnection, postings: list[Posting]) -> list[bool | BaseException]:
        """Apply a lane's batch set-wise: hold flips in one statement per status, funds checks one by one,
        the other balance moves summed per account, rows inserted with executemany."""
        outcomes: list[bool | BaseException] = [True] * len(postings)
        closing: dict[str, list[str]] = {}
        for posting in postings:
            if posting.closes_hold is not None:
                closing.setdefault(posting.closes_hold[1], []).append(posting.closes_hold[0])
        flipped: set[str] = set()
        for status, ids in closing.items():
            stmt = update(Hold).where(Hold.id.in_(ids), Hold.status == "open").values(status=status).returning(Hold.id)
            flipped.update((await connection.execute(stmt)).scalars())
        for i, posting in enumerate(postings):
            if posting.adjusts_hold is not None:
                hold_id, delta, expires = posting.adjusts_hold
                adjusted = await connection.execute(_ADJUST_HOLD, {"hold": hold_id, "delta": delta, "expires": expires})
                if adjusted.rowcount != 1:
                    outcomes[i] = False  # the lease was released meanwhile (its process was taken for dead)
        funded: list[int] = []
        plain: list[int] = []
        for i, posting in enumerate(postings):
            if outcomes[i] is False:
                continue
            if posting.closes_hold is not None and posting.closes_hold[0] not in flipped:
                outcomes[i] = False
            elif any(a in posting.funded and d < 0 for a, d in posting.legs):
                funded.append(i)
            else:
                plain.append(i)
        # Moves that cannot fail (captures, releases, credits) go first, so that money they return is
        # already there for the funds checks that follow.
        await _move(connection, [postings[i] for i in plain])
        for i in funded:
            account, amount = next((a, d) for a, d in postings[i].legs if a in postings[i].funded and d < 0)
            result = await connection.execute(_DEBIT, {"account": account, "delta": amount})
            if result.rowcount != 1:
                if postings[i].adjusts_hold is not None:
                    raise refusal()  # undo its hold adjustment with the whole transaction (leases post alone)
                outcomes[i] = refusal()
        await _move(connection, [postings[i] for i in funded if outcomes[i] is True], skip_funded=True)
        applied = [p for p, outcome in zip(postings, outcomes, strict=True) if outcome is True]
        await self._record(connection, applied)
        return outcomes

    async def _record(self, connection: AsyncConnection, postings: list[Posting]) -> None:
        if not postings:
            return
        now = datetime.now(UTC)
        transactions, entries, holds = [], [], []
        for posting in postings:
            transaction_id = f"tx_{uuid.uuid4().hex}"
            magnitude = sum(amount for _, amount in posting.legs if amount > 0)
            transactions.append(
                {
                    "id": transaction_id,
                    "idempotency_key": posting.key,
                    "kind": posting.kind,
                    "user_id": posting.user_id,
                    "amount": magnitude,
                    "memo": posting.memo,
                    "created_at": now,
                }
            )
            entries += [{"transaction_id": transaction_id, "account_id": a, "amount": d} for a, d in posting.legs]
            if posting.opens_hold is not None:
                holds.append(posting.opens_hold)
        await connection.execute(_INSERT_TRANSACTION, transactions)
        await connection.execute(_INSERT_ENTRY, entries)
        if holds:
            await connection.execute(_INSERT_HOLD, holds)

    async def _alone(self, posting: Posting) -> bool:
        for attempt in range(_DEADLOCK_RETRIES):
            try:
                async with self._engine.begin() as connection:
                    return await self._apply(connection, posting)
            except IntegrityError:
                # The key (or the hold row) exists: this posting happened before, or a racing twin won and
                # ours rolled back whole.
                async with self._engine.connect() as connection:
                    if await _seen(connection, posting.key):
                        return False
                raise
            except DBAPIError as error:
                if "deadlock" not in str(error).lower() or attempt + 1 == _DEADLOCK_RETRIES:
                    raise
        raise AssertionError("unreachable")

    async def _apply(self, connection: AsyncConnection, posting: Posting) -> bool:
        outcome = (await self._apply_all(connection, [posting]))[0]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

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


async def _move(connection: AsyncConnection, postings: list[Posting], *, skip_funded: bool = False) -> None:
    """The postings' balance moves, summed per account, in account order (the global lock order)."""
    moves: dict[str, int] = {}
    for posting in postings:
        for account, amount in posting.legs:
            if account.startswith("system:") or (skip_funded and account in posting.funded and amount < 0):
                continue  # system balances are summed from entries on demand: no hot row
            moves[account] = moves.get(account, 0) + amount
    params = [{"account": a, "delta": d} for a, d in sorted(moves.items()) if d]
    if params:
        await connection.execute(_MOVE, params)


async def _outcome(posting: Awaitable[bool]) -> bool | BaseException:
    """A posting's result, with a refusal as a value: it wrote nothing, so the batch goes on."""
    try:
        return await posting
    except InsufficientBalance as refused:
        return refused


def _take_batch(state: _Lane) -> list[tuple[Posting, asyncio.Future[bool]]]:
    """The next batch: at most _MAX_BATCH postings, and cut before a posting that touches a hold already in
    the batch (opened or closed), so each hold changes state at most once per transaction."""
    batch: list[tuple[Posting, asyncio.Future[bool]]] = []
    holds: set[str] = set()
    for posting, future in state.queue:
        touched = {
            h
            for h in (posting.opens_hold and posting.opens_hold["id"], posting.closes_hold and posting.closes_hold[0])
            if h
        }
        if len(batch) == _MAX_BATCH or touched & holds:
            break
        holds |= touched
        batch.append((posting, future))
    state.queue = state.queue[len(batch) :]
    return batch


def _settle_futures(batch: list[tuple[Posting, asyncio.Future[bool]]], outcomes: list[bool | BaseException]) -> None:
    for (_, future), outcome in zip(batch, outcomes, strict=True):
        if future.done():
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


async def _seen(connection: AsyncConnection, key: str) -> bool:
    found = await connection.execute(select(LedgerTransaction.id).where(LedgerTransaction.idempotency_key == key))
    return found.first() is not None
