"""Background jobs that run every few seconds for the life of the process."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

log = logging.getLogger(__name__)
FINISH_WITHIN = 30.0  # seconds a run in progress may take to finish once the process is stopping


async def every(seconds: float, job: Callable[[], Awaitable[object]]) -> None:
    """Run ``job`` every ``seconds`` until cancelled; a failing run is logged, not fatal. A cancel that arrives
    during a run lets the run finish first (up to ``FINISH_WITHIN``): cut inside a transaction, a run would leave
    its connection holding SQLite's write lock until it is collected."""
    while True:
        await asyncio.sleep(seconds)
        run = asyncio.ensure_future(_logged(job))
        try:
            await asyncio.shield(run)
        except asyncio.CancelledError:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(run, FINISH_WITHIN)
            raise


async def _logged(job: Callable[[], Awaitable[object]]) -> None:
    try:
        await job()
    except Exception:
        log.exception("periodic job %s failed", getattr(job, "__qualname__", job))


@contextlib.asynccontextmanager
async def running_every(seconds: float, job: Callable[[], Awaitable[object]], name: str) -> AsyncIterator[None]:
    """``every`` as a task for the life of the block, stopped (its run in progress finished) when it exits."""
    task = asyncio.create_task(every(seconds, job), name=name)
    try:
        yield
    finally:
        await cancel(task)


async def cancel(task: asyncio.Task[None]) -> None:
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
