"""What the access layer hands the inference path for one request, and what the path hands back."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Protocol


class Payment(Protocol):
    """How one request is paid: an account balance now, an x402 authorization later."""

    charged: int

    async def authorize(self, amount: int) -> None:
        """Reserve ``amount`` (micro-USDC) before work starts; raise if it cannot be covered."""

    async def settle(self, cost: int) -> None:
        """Charge the actual ``cost`` and return the rest of the reservation."""

    async def cancel(self) -> None:
        """Nothing was served: return the whole reservation."""

    def trailer(self) -> bytes | None:
        """Bytes to end a stream with (before ``[DONE]``) once settled: what a header would have said."""


class TokenBudget(Protocol):
    """A tokens-per-minute limit: reserve an estimate up front, true it up afterwards."""

    async def reserve(self, tokens: int) -> None: ...

    async def commit(self, tokens: int) -> None: ...


@dataclass(slots=True)
class RequestContext:
    endpoint: str
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    key_id: str | None = None
    user_id: str | None = None
    allowed_models: frozenset[str] | None = None
    payment: Payment | None = None
    budget: TokenBudget | None = None
    #: output cap to price and send upstream when a paid chat request sets none (None: the service default)
    default_max_tokens: int | None = None
    #: only confidential (TEE) providers may serve this request (the request's ``tee`` flag or the key's policy)
    require_tee: bool = False
    #: only this provider may serve it (E2EE: the enclave whose key sealed the request; ``x-cluster-tee-provider``)
    pinned_provider: str | None = None
    #: response headers gathered on the way (rate-limit state)
    headers: dict[str, str] = field(default_factory=dict)
    started: float = field(default_factory=time.perf_counter)

    def elapsed_ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


@dataclass(slots=True)
class Served:
    """A provider's answer and who gave it. Exactly one of ``body`` / ``events`` is set."""

    provider: str
    body: bytes | None = None
    events: AsyncIterator[bytes] | None = None
    #: settles a stream whatever happens to the response (idempotent)
    close: Callable[[], Awaitable[None]] | None = None
    #: None: JSON for a body, server-sent events for a stream
    content_type: str | None = None
