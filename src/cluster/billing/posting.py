"""A posting: one balanced movement of money between ledger accounts, and the account names."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from cluster.errors import InsufficientBalance

REVENUE = "system:revenue"
EXTERNAL = "system:external"


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
    #: a hold row to record with the posting
    opens_hold: dict[str, Any] | None = None
    #: (hold id, new status): the posting applies only if it moves that hold out of "open"
    closes_hold: tuple[str, str] | None = None
    #: (hold id, amount delta, new expiry): the posting applies only if that hold is still open (a lease)
    adjusts_hold: tuple[str, int, Any] | None = None


def refusal() -> InsufficientBalance:
    return InsufficientBalance("Your balance is too low for this request (its maximum cost is held before it runs)")
