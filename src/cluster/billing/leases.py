"""Credit leases: the request path pays from memory.

Each process holds, per account, one ledger hold — its lease — and reserves requests' worst cases against it in
memory. Settling a request moves its cost to ``spent`` in memory; every ``lease_flush`` seconds the spent
amounts are posted (held → revenue, the lease row shrunk by as much), and a lease idle for ``lease_idle``
seconds is released. The only database work a request may wait for is extending a lease that ran low, and that
extension is where too little balance becomes a 402. A crash forgives at most one flush of spend: the sweeper
releases the lease by what its row still holds.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from cluster.billing.posting import REVENUE, Posting, available, held
from cluster.errors import InsufficientBalance, ServiceUnavailable
from cluster.settings import BillingSettings

log = logging.getLogger(__name__)
Post = Callable[[Posting], Awaitable[bool]]


@dataclass(slots=True)
class Lease:
    user_id: str
    hold_id: str
    opened: bool = False
    amount: int = 0  # what the lease hold row holds
    reserved: int = 0  # worst cases of requests in flight
    spent: int = 0  # settled costs not yet posted
    flushes: int = 0
    closing: bool = False
    last_used: float = field(default_factory=time.monotonic)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def free(self) -> int:
        return self.amount - self.reserved - self.spent


class LeaseBook:
    def __init__(self, post: Post, settings: BillingSettings, owner: str) -> None:
        self._post = post
        self._settings = settings
        self._owner = owner
        self._leases: dict[str, Lease] = {}

    async def reserve(self, user_id: str, amount: int) -> Lease:
        """Reserve ``amount`` on this process's lease for ``user_id`` (extending it if needed); returns the
        lease, which the request settles against even if the book has moved on to a newer one."""
        while True:
            lease = self._leases.get(user_id)
            if lease is None:
                lease = self._leases[user_id] = Lease(user_id, f"lease_{uuid.uuid4().hex[:24]}")
            lease.last_used = time.monotonic()
            if not lease.closing and lease.free >= amount:
                lease.reserved += amount
                return lease
            async with lease.lock:
                if self._leases.get(user_id) is not lease:
                    continue  # it was returned while we waited: take the account's current lease
                if lease.free < amount:
                    # Shielded: a client leaving mid-extension must not leave the lease row and its count apart.
                    await asyncio.shield(self._extend(lease, amount - lease.free))
                lease.reserved += amount
                return lease

    @staticmethod
    def spend(lease: Lease, reserved: int, cost: int) -> int:
        """Move a request's cost (never more than it reserved) to the lease's spend; posted at the next flush."""
        charged = min(cost, reserved)
        lease.reserved -= reserved
        lease.spent += charged
        lease.last_used = time.monotonic()
        return charged

    @staticmethod
    def cancel(lease: Lease, reserved: int) -> None:
        lease.reserved -= reserved

    async def flush(self, user_id: str | None = None, *, release: bool = False) -> None:
        """Post spent amounts; release idle leases (all unused credit when ``release``)."""
        now = time.monotonic()
        if user_id is None:
            targets = list(self._leases.values())
        else:
            targets = [self._leases[user_id]] if user_id in self._leases else []
        for lease in targets:
            async with lease.lock:
                await self._post_spent(lease)
                idle = now - lease.last_used >= self._settings.lease_idle
                if (
                    lease.reserved == 0
                    and lease.spent == 0
                    and (release or idle)
                    and self._leases.get(lease.user_id) is lease
                ):
                    await self._release(lease)

    async def _extend(self, lease: Lease, need: int) -> None:
        for amount in dict.fromkeys((max(need, self._settings.lease_size), need)):
            try:
                legs = [(available(lease.user_id), -amount), (held(lease.user_id), amount)]
                applied = await self._post(self._posting(lease, "lease", legs, amount, funded=True))
            except InsufficientBalance:
                if amount == need:
                    raise
                continue
            else:
                if not applied:  # our lease row was reclaimed (this process was taken for dead)
                    self._forget(lease)
                    raise ServiceUnavailable("billing lease was reclaimed; retry", headers={"retry-after": "1"})
                lease.opened = True
                lease.amount += amount
                return

    async def _post_spent(self, lease: Lease) -> None:
        spent = lease.spent
        if not spent:
            return
        posting = self._posting(lease, "capture", [(held(lease.user_id), -spent), (REVENUE, spent)], -spent)
        if not await self._post(posting):
            log.warning("lease %s was released under us: %d micro-USDC of spend forgiven", lease.hold_id, spent)
            self._forget(lease)
            return
        lease.spent -= spent
        lease.amount -= spent

    async def _release(self, lease: Lease) -> None:
        """Return the whole lease (nothing reserved or unposted) and close its hold row."""
        lease.closing = True  # from here no request may reserve on it; they wait for the lock, then renew
        if lease.opened and lease.amount:
            legs = [(held(lease.user_id), -lease.amount), (available(lease.user_id), lease.amount)]
            posting = Posting(f"release:{lease.hold_id}", "release", legs, lease.user_id,
                              closes_hold=(lease.hold_id, "released"))  # fmt: skip
            await self._post(posting)  # False: a sweeper already returned it; either way the money is back
        self._forget(lease)

    def _forget(self, lease: Lease) -> None:
        if self._leases.get(lease.user_id) is lease:
            del self._leases[lease.user_id]

    def _posting(
        self, lease: Lease, kind: str, legs: list[tuple[str, int]], delta: int, *, funded: bool = False
    ) -> Posting:
        lease.flushes += 1
        now = datetime.now(UTC)
        expires = now + timedelta(seconds=self._settings.hold_ttl)
        posting = Posting(f"{kind}:{lease.hold_id}:{lease.flushes}", kind, legs, lease.user_id,
                          funded={available(lease.user_id)} if funded else ())  # fmt: skip
        if lease.opened:
            posting.adjusts_hold = (lease.hold_id, delta, expires)
        else:
            posting.opens_hold = {"id": lease.hold_id, "user_id": lease.user_id, "amount": delta, "status": "open",
                                  "owner": self._owner, "created_at": now, "expires_at": expires}  # fmt: skip
        return posting
