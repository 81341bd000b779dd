"""A per-provider circuit breaker: closed → (N consecutive failures) → open → (cooldown) → half-open, where
one probe request decides between closed and open again."""

from __future__ import annotations

import time
from collections.abc import Callable
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    def __init__(self, failures: int, cooldown: float, clock: Callable[[], float] = time.monotonic) -> None:
        self._threshold = failures
        self._cooldown = cooldown
        self._clock = clock
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False
        self.state = BreakerState.CLOSED

    def available(self) -> bool:
        """Whether a request could be sent now (no state change)."""
        if self.state is BreakerState.CLOSED:
            return True
        if self.state is BreakerState.OPEN:
            return self._clock() - self._opened_at >= self._cooldown
        return not self._probing

    def acquire(self) -> bool:
        """Claim the right to send one request; in half-open only one probe is let through at a time."""
        if self.state is BreakerState.CLOSED:
            return True
        if not self.available():
            return False
        self.state = BreakerState.HALF_OPEN
        self._probing = True
        return True

    def success(self) -> None:
        self._failures = 0
        self._probing = False
        self.state = BreakerState.CLOSED

    def failure(self) -> None:
        self._probing = False
        self._failures += 1
        if self.state is BreakerState.HALF_OPEN or self._failures >= self._threshold:
            self.state = BreakerState.OPEN
            self._opened_at = self._clock()

    def release(self) -> None:
        """The request ended without judging the provider (e.g. the client went away)."""
        self._probing = False
