"""Background jobs that run every few seconds for the life of the process."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


async def every(seconds: float, job: Callable[[], Awaitable[object]]) -> None:
    """Run ``job`` every ``seconds`` until cancelled; a failing run is logged, not fatal."""
    while True:
        await asyncio.sleep(seconds)
        try:
            await job()
        except Exception:
            log.exception("periodic job %s failed", getattr(job, "__qualname__", job))
