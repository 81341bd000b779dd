"""Run blocking model code off the event loop: one dedicated thread per local model (the model objects are
not thread-safe, and the queue in front of the thread is the fairness we want), with results or stream
events handed back to the loop."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from cluster.errors import ClusterError
from cluster.metering import Usage
from cluster.providers.base import ProviderFailure

T = TypeVar("T")
_END = object()


class ModelThread:
    def __init__(self, name: str) -> None:
        self.name = name
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"model-{name}")

    async def run(self, fn: Callable[[], T]) -> T:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, fn)
        except (ProviderFailure, ClusterError):
            raise  # a failover already, or the request's own fault (the caller's error)
        except Exception as exc:  # anything else the engine raised: this provider failed, another may serve
            raise ProviderFailure(self.name, f"{type(exc).__name__}: {exc}") from exc

    def stream(self, produce: Callable[[ThreadStream], None]) -> ThreadStream:
        stream = ThreadStream(self.name, asyncio.get_running_loop())
        self._executor.submit(stream.run, produce)
        return stream

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)


class ThreadStream:
    """SSE events produced in the model thread, consumed on the loop. ``aclose`` asks the producer to stop
    at its next token; ``usage`` is kept current by the producer, so an early close still counts what was
    generated."""

    def __init__(self, name: str, loop: asyncio.AbstractEventLoop) -> None:
        self.usage: Usage | None = None
        self.headers: dict[str, str] = {}
        self._name = name
        self._loop = loop
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._stop = threading.Event()

    @property
    def stopped(self) -> bool:
        return self._stop.is_set()

    def put(self, event: bytes) -> None:
        self._send(event)

    def _send(self, item: object) -> None:
        try:
            self._loop.call_soon_threadsafe(self._queue.put_nowait, item)
        except RuntimeError:  # the loop has closed under a shutdown: nobody is left to read
            self._stop.set()

    def run(self, produce: Callable[[ThreadStream], None]) -> None:
        try:
            if not self.stopped:
                produce(self)
        except ClusterError as exc:  # the request's own fault (a prompt too long): the caller's error, no failover
            self._send(exc)
        except Exception as exc:  # everything raised in the thread reaches the consumer
            self._send(ProviderFailure(self._name, f"{type(exc).__name__}: {exc}"))
        finally:
            self._send(_END)

    def __aiter__(self) -> ThreadStream:
        return self

    async def __anext__(self) -> bytes:
        item = await self._queue.get()
        if item is _END:
            raise StopAsyncIteration
        if isinstance(item, BaseException):
            raise item
        assert isinstance(item, bytes)
        return item

    async def aclose(self) -> None:
        self._stop.set()
