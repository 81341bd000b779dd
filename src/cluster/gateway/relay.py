"""Streams from a provider to the client, settled exactly once however they end.

A stream is opened by waiting for its first chunk (so that a provider failing before it can still be routed
around), then relayed. How its end is written depends on its ``Framing``: chat's SSE holds ``[DONE]`` back
until the payment is settled (a failure to settle, or a provider dying mid-stream, becomes an error event);
other event streams (speech's ``sse``, transcripts) end with their own last event; raw audio has no place for an
error, so a stream cut short just ends (and is recorded as such).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, replace

import anyio

from cluster.errors import ClusterError
from cluster.gateway.admission import conclude
from cluster.gateway.catalog import CatalogEntry
from cluster.gateway.context import RequestContext
from cluster.gateway.router import Router, Upstream
from cluster.metering import Usage
from cluster.providers.base import ChunkStream, ProviderFailure
from cluster.tracing import Tracing
from cluster.wire import sse


@dataclass(frozen=True, slots=True)
class Framing:
    #: errors and the payment trailer can be written into the stream as SSE events
    events: bool
    #: the stream ends with ``data: [DONE]`` (chat)
    done: bool


CHAT = Framing(events=True, done=True)
EVENTS = Framing(events=True, done=False)
RAW = Framing(events=False, done=False)


async def open_stream(stream: ChunkStream, provider: str) -> tuple[ChunkStream, bytes]:
    """Wait for a stream's first chunk, so that failures up to here can still fail over."""
    try:
        first = await stream.__anext__()
    except StopAsyncIteration:
        await stream.aclose()
        raise ProviderFailure(provider, "stream ended before its first event") from None
    except BaseException:
        with anyio.CancelScope(shield=True):
            await stream.aclose()
        raise
    return stream, first


def openai_error(error: ClusterError) -> dict[str, object]:
    """Mid-stream errors always carry OpenAI's ``error`` object, whatever else the error's own body holds."""
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}


class Relay:
    """One stream from a provider to the client. ``close`` settles everything exactly once: from the end of
    ``events``, or from the response when the client left before ``events`` ever started."""

    def __init__(
        self,
        router: Router,
        ctx: RequestContext,
        entry: CatalogEntry,
        upstream: Upstream,
        stream: ChunkStream,
        first: bytes,
        ttft: float,
        finish: Callable[[str, int, Usage | None], None],
        tracing: Tracing,
        framing: Framing = CHAT,
    ) -> None:
        self._router, self._ctx, self._entry, self._upstream = router, ctx, entry, upstream
        self._tracing = tracing
        self._stream, self._first, self._ttft, self._finish = stream, first, ttft, finish
        self._framing = framing
        self._outcome = "abandoned"  # until the stream ends one way or the other
        self._closed = False
        self._payment_error: ClusterError | None = None

    async def events(self) -> AsyncIterator[bytes]:
        framing = self._framing
        try:
            yield self._first
            async for event in self._stream:
                if framing.done and event.startswith(sse.DONE_PREFIX):
                    break  # held back: the payment is settled first, and may still fail
                yield event
            self._outcome = "ok"
            await self.close()
            if framing.events and self._payment_error is not None:
                yield sse.event(self._payment_error.to_dict() | openai_error(self._payment_error))
            elif framing.events and self._ctx.payment is not None and (trailer := self._ctx.payment.trailer()):
                yield trailer
            if framing.done:
                yield sse.DONE
        except ProviderFailure as failure:
            self._outcome = "failed"
            if framing.events:
                message = f"the provider failed mid-stream: {failure.reason}"
                error = {"message": message, "type": "server_error", "param": None, "code": "stream_interrupted"}
                yield sse.event({"error": error})
            if framing.done:
                yield sse.DONE
        finally:
            await self.close()

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        with anyio.CancelScope(shield=True):
            await self._stream.aclose()
            if self._outcome == "ok":
                self._router.succeeded(self._upstream, self._ttft)
            elif self._outcome == "failed":
                self._router.failed(self._upstream)
            else:
                self._router.abandoned(self._upstream)
            # one snapshot priced and recorded: a local producer may count on for a moment after aclose
            usage = replace(self._stream.usage) if self._stream.usage else None
            try:
                with self._tracing.span("payment.settle", model=self._entry.id):
                    cost = await conclude(self._ctx, self._entry, usage)  # what was generated is paid
            except ClusterError as error:  # the payment failed to settle: the stream ends with it
                self._payment_error, cost = error, 0
                self._finish("payment_failed", cost, usage)
                return
            self._finish(self._outcome, cost, usage)
