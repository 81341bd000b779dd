"""Balances, holds and captures.

A request's maximum cost is held (available → held) before it runs; afterwards the actual cost is captured
(held → revenue) and the rest released (held → available), in one posting keyed by the request. A hold
row records who placed it; each process heartbeats, and a sweeper releases holds whose process stopped
heartbeating (a crash, ``kill -9``) or that outlived ``hold_ttl``. Capture and release both start by
flipping the hold from ``open`` in the same transaction, so exactly one of them ever happens.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.auth.times import aware
from cluster.billing.leases import Lease, LeaseBook
from cluster.billing.ledger import Ledger
from cluster.billing.models import Hold, Instance, LedgerAccount, LedgerEntry, LedgerTransaction
from cluster.billing.posting import EXTERNAL, REVENUE, Posting, available, held
from cluster.billing.protocol import AdjustRequest, BalanceObject, LedgerHistory, LedgerLine
from cluster.periodic import cancel, every
from cluster.settings import BillingSettings

log = logging.getLogger(__name__)


class BillingService:
    def __init__(self, engine: AsyncEngine, settings: BillingSettings) -> None:
        self._engine = engine
        self._settings = settings
        self.ledger = Ledger(engine)
        self.instance_id = f"inst_{uuid.uuid4().hex[:16]}"
        self.leases = LeaseBook(self.ledger.post, settings, self.instance_id)
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        await self.ledger.ensure_accounts()
        async with self._engine.begin() as connection:
            await connection.execute(insert(Instance).values(id=self.instance_id, heartbeat_at=_now()))
        await self.sweep()
        self._tasks = [
            asyncio.create_task(every(self._settings.heartbeat_interval, self._heartbeat)),
            asyncio.create_task(every(self._settings.sweep_interval, self.sweep)),
            asyncio.create_task(every(self._settings.lease_flush, self.leases.flush)),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            await cancel(task)
        await self.leases.flush(release=True)
        async with self._engine.begin() as connection:
            await connection.execute(delete(Instance).where(Instance.id == self.instance_id))

    # -- money in and out (admin) ----------------------------------------------------------------------
    async def credit(self, request: AdjustRequest) -> BalanceObject:
        await self.post_credit(request)
        return await self.balance(request.user_id)

    async def post_credit(self, request: AdjustRequest) -> None:
        """``credit`` without reading the balance back (for callers that credit many at a time)."""
        await self.ledger.ensure_accounts(request.user_id)
        legs = [(EXTERNAL, -request.amount), (available(request.user_id), request.amount)]
        posting = Posting(f"credit:{request.idempotency_key}", "credit", legs, request.user_id, memo=request.memo)
        await self.ledger.post(posting, lane=request.user_id)

    async def debit(self, request: AdjustRequest) -> BalanceObject:
        user = request.user_id
        legs = [(available(user), -request.amount), (EXTERNAL, request.amount)]
        posting = Posting(f"debit:{request.idempotency_key}", "debit", legs, user, {available(user)}, request.memo)
        await self.ledger.post(posting, lane=user)
        return await self.balance(user)

    async def charge(self, user_id: str, amount: int, key: str, memo: str) -> None:
        """A charge outside the request path (a fine-tuning job): available → revenue, refused with
        ``InsufficientBalance`` rather than overdrawn; once per ``key``."""
        await self.leases.flush(user_id, release=True)  # this process's leased funds count as available
        legs = [(available(user_id), -amount), (REVENUE, amount)]
        await self.ledger.post(
            Posting(f"charge:{key}", "charge", legs, user_id, {available(user_id)}, memo), lane=user_id
        )

    async def refund(self, user_id: str, amount: int, key: str, memo: str) -> None:
        """Part or all of a ``charge`` given back; once per ``key``."""
        legs = [(REVENUE, -amount), (available(user_id), amount)]
        await self.ledger.post(Posting(f"refund:{key}", "refund", legs, user_id, memo=memo), lane=user_id)

    async def record_x402(self, payer: str, paid: int, cost: int, key: str, memo: str) -> None:
        """A settled x402 payment: ``paid`` came in on chain for a request that cost ``cost``; the rest stays on
        the payer's balance (its account is its address). Idempotent by ``key``."""
        if paid == 0:
            return
        await self.ledger.ensure_accounts(payer)
        legs = [
            (account, amount)
            for account, amount in ((EXTERNAL, -paid), (REVENUE, cost), (available(payer), paid - cost))
            if amount
        ]
        funded = {available(payer)} if cost > paid else set()
        await self.ledger.post(Posting(f"x402:{key}", "x402", legs, payer, funded, memo), lane=payer)

    async def history(self, user_id: str, limit: int = 50) -> LedgerHistory:
        """The newest postings that moved the user's available balance (holds and leases net out in them)."""
        query = (
            select(LedgerTransaction.created_at, LedgerTransaction.kind, LedgerTransaction.memo, LedgerEntry.amount)
            .join(LedgerTransaction, LedgerTransaction.id == LedgerEntry.transaction_id)
            .where(LedgerEntry.account_id == available(user_id))
            .order_by(LedgerEntry.id.desc())
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        lines = [
            LedgerLine(created_at=int(aware(when).timestamp()), kind=kind, memo=memo, amount=amount)
            for when, kind, memo, amount in rows
        ]
        return LedgerHistory(data=lines)

    async def balance(self, user_id: str) -> BalanceObject:
        await self.leases.flush(user_id, release=True)  # this process's unused lease counts as available
        free, reserved = await self.ledger.balances(user_id)
        return BalanceObject(user_id=user_id, available=free, held=reserved)

    # -- per request -----------------------------------------------------------------------------------
    async def hold(self, user_id: str, hold_id: str, amount: int) -> None:
        now = _now()
        expires = now + timedelta(seconds=self._settings.hold_ttl)
        row = {
            "id": hold_id,
            "user_id": user_id,
            "amount": amount,
            "status": "open",
            "owner": self.instance_id,
            "created_at": now,
            "expires_at": expires,
        }
        legs = [(available(user_id), -amount), (held(user_id), amount)]
        posting = Posting(f"hold:{hold_id}", "hold", legs, user_id, {available(user_id)}, opens_hold=row)
        await self.ledger.post(posting, lane=user_id)

    async def capture(self, user_id: str, hold_id: str, amount: int, cost: int) -> int:
        """Charge ``cost`` (never more than was held) and release the rest; returns what was charged."""
        charged = min(cost, amount)
        if cost > amount:
            log.warning("hold %s: cost %d exceeded the hold %d; charged the hold", hold_id, cost, amount)
        legs = [(held(user_id), -amount), (REVENUE, charged), (available(user_id), amount - charged)]
        posting = Posting(f"capture:{hold_id}", "capture", legs, user_id, closes_hold=(hold_id, "captured"))
        return charged if await self.ledger.post(posting, lane=user_id) else 0

    async def release(self, user_id: str, hold_id: str, amount: int) -> None:
        legs = [(held(user_id), -amount), (available(user_id), amount)]
        posting = Posting(f"release:{hold_id}", "release", legs, user_id, closes_hold=(hold_id, "released"))
        await self.ledger.post(posting, lane=user_id)

    async def sweep(self) -> int:
        """Release holds whose process is gone (no heartbeat for 3 intervals) or that outlived hold_ttl."""
        now = _now()
        stale = now - timedelta(seconds=3 * self._settings.heartbeat_interval)
        live = select(Instance.id).where(Instance.heartbeat_at >= stale)
        async with self._engine.connect() as connection:
            orphans = (
                await connection.execute(
                    select(Hold.id, Hold.user_id, Hold.amount).where(
                        Hold.status == "open", or_(Hold.expires_at < now, Hold.owner.not_in(live))
                    )
                )
            ).all()
        for hold_id, user_id, amount in orphans:
            await self.release(user_id, hold_id, amount)
        if orphans:
            log.warning("released %d orphaned holds", len(orphans))
        async with self._engine.begin() as connection:
            await connection.execute(delete(Instance).where(Instance.heartbeat_at < stale))
        return len(orphans)

    async def audit(self) -> dict[str, int]:
        """Ledger invariants: every entry sums to zero, and each user balance equals its entries."""
        await self.leases.flush(release=True)
        async with self._engine.connect() as connection:
            total = (await connection.execute(select(func.coalesce(func.sum(LedgerEntry.amount), 0)))).scalar_one()
            sums = dict(
                (
                    await connection.execute(
                        select(LedgerEntry.account_id, func.sum(LedgerEntry.amount)).group_by(LedgerEntry.account_id)
                    )
                ).all()
            )
            accounts = (
                await connection.execute(
                    select(LedgerAccount.id, LedgerAccount.balance).where(LedgerAccount.user_id.is_not(None))
                )
            ).all()
        mismatched = sum(1 for account, balance in accounts if int(sums.get(account, 0)) != balance)
        return {"sum": int(total), "mismatched_accounts": mismatched, "revenue": int(sums.get(REVENUE, 0))}

    async def _heartbeat(self) -> None:
        async with self._engine.begin() as connection:
            beat = update(Instance).where(Instance.id == self.instance_id).values(heartbeat_at=_now())
            if (await connection.execute(beat)).rowcount == 0:
                # A sweep took us for dead (a stalled loop or a database blip): come back, or every later
                # sweep would release our open holds under running requests.
                await connection.execute(insert(Instance).values(id=self.instance_id, heartbeat_at=_now()))


class AccountPayment:
    """One request paid from a user's balance, through this process's lease on it (billing/leases.py)."""

    def __init__(self, billing: BillingService, user_id: str) -> None:
        self._leases = billing.leases
        self._user_id = user_id
        self._lease: Lease | None = None
        self._reserved = 0
        self.charged = 0

    async def authorize(self, amount: int) -> None:
        if amount > 0:
            self._lease = await self._leases.reserve(self._user_id, amount)
            self._reserved = amount

    async def settle(self, cost: int) -> None:
        if self._lease is not None and self._reserved:
            self.charged = self._leases.spend(self._lease, self._reserved, cost)
            self._reserved = 0

    def trailer(self) -> bytes | None:
        return None

    async def cancel(self) -> None:
        if self._lease is not None and self._reserved:
            self._leases.cancel(self._lease, self._reserved)
            self._reserved = 0


def _now() -> datetime:
    return datetime.now(UTC)
