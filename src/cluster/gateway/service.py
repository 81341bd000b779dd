"""The inference request path: catalog → router → provider (with failover) → metering.

Failover: a connect error, timeout, 5xx or 429 from a provider before the first byte has gone to the client
moves the request to the next provider of its plan, up to ``router.max_attempts``. For streams the first
event is awaited before the response starts, so a provider that fails before its first token is also
routed around. A failure after that ends the stream with an OpenAI-style error event and ``[DONE]``: tokens
the client has already seen cannot be taken back, and a second provider would not continue them coherently.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from typing import Protocol, TypeVar, cast

import anyio

from cluster.billing import pricing
from cluster.errors import ClusterError, InvalidRequest, ModelNotFound, Overloaded, ProviderUnavailable
from cluster.gateway.admission import abort, admit, conclude
from cluster.gateway.catalog import Catalog, CatalogEntry
from cluster.gateway.context import RequestContext, Served
from cluster.gateway.router import Router, Upstream
from cluster.metering import RequestLogWriter, RequestRecord, Usage
from cluster.providers.base import (
    Call,
    Capability,
    ChatProvider,
    ChunkStream,
    Completion,
    EmbeddingsProvider,
    Provider,
    ProviderFailure,
)
from cluster.tracing import Tracing
from cluster.wire import sse
from cluster.wire.openai import ChatCompletionRequest, EmbeddingRequest, ModelList

T = TypeVar("T")


class ModelSource(Protocol):
    """Models that exist outside the static catalog (fine-tuned ones), found by name for a caller."""

    async def resolve(self, name: str, user_id: str | None) -> CatalogEntry | None: ...


class InferenceService:
    def __init__(
        self,
        catalog: Catalog,
        router: Router,
        recorder: RequestLogWriter,
        *,
        default_max_tokens: int = 4096,
        extra: ModelSource | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.catalog = catalog
        self.router = router
        self._recorder = recorder
        self._default_max_tokens = default_max_tokens
        self._extra = extra
        self._tracing = tracing or Tracing()

    def models(self) -> ModelList:
        return ModelList(data=[self.catalog.card(entry) for entry in self.catalog.entries()])

    async def chat(self, request: ChatCompletionRequest, ctx: RequestContext) -> Served:
        try:
            return await self._chat(request, ctx)
        except ClusterError as error:
            self._record_refusal(ctx, request.model, error)
            raise

    async def embed(self, request: EmbeddingRequest, ctx: RequestContext) -> Served:
        try:
            return await self._embed(request, ctx)
        except ClusterError as error:
            self._record_refusal(ctx, request.model, error)
            raise

    async def _chat(self, request: ChatCompletionRequest, ctx: RequestContext) -> Served:
        entry = await self._entry(request.model, ctx, expect_embedding=False)
        if request.model_extra and request.model_extra.pop("tee", False):  # Cluster's flag, not sent upstream
            ctx.require_tee = True
        tee_only = ctx.require_tee or entry.model.tee
        call = Call(ctx.user_id)
        if request.output_limit is None and ctx.payment is not None:
            # the hold (or the x402 price) must bound what can be generated
            request.max_tokens = ctx.default_max_tokens or self._default_max_tokens
        try:
            # n choices may each generate up to the output cap
            with self._tracing.span("payment.authorize", model=entry.id):
                await admit(ctx, entry, lambda: pricing.chat_bound(request, (request.output_limit or 0) * request.n))
            route = (entry, Capability.CHAT)
            if not request.stream:
                complete = lambda p, m: _complete(_chat(p), request, m, call)  # noqa: E731
                upstream, completion, attempts = await self._attempt(*route, complete, tee_only, ctx.pinned_provider)
                ctx.headers.update(completion.headers)
            else:
                open_stream = lambda p, m: _open_stream(_chat(p), request, m, call)  # noqa: E731
                upstream, (stream, first), attempts = await self._attempt(
                    *route, open_stream, tee_only, ctx.pinned_provider
                )
                ctx.headers.update(stream.headers)
        except BaseException:
            await abort(ctx)
            raise
        if request.stream:
            ttft = ctx.elapsed_ms()
            relay = self._relay(ctx, entry, upstream, attempts, stream, first, ttft)
            return Served(upstream.name, events=relay.events(), close=relay.close)
        await self._finish(ctx, entry, upstream, attempts, completion.usage)
        return Served(upstream.name, body=completion.body)

    async def _embed(self, request: EmbeddingRequest, ctx: RequestContext) -> Served:
        entry = await self._entry(request.model, ctx, expect_embedding=True)
        if ctx.require_tee or entry.model.tee:
            raise ProviderUnavailable(f"no confidential (TEE) provider serves embeddings for '{entry.id}'")
        call = Call(ctx.user_id)
        try:
            with self._tracing.span("payment.authorize", model=entry.id):
                await admit(ctx, entry, lambda: pricing.embedding_bound(request))
            upstream, result, attempts = await self._attempt(
                entry, Capability.EMBEDDINGS, lambda p, m: cast(EmbeddingsProvider, p).embed(request, m, call)
            )
        except BaseException:
            await abort(ctx)
            raise
        await self._finish(ctx, entry, upstream, attempts, result.usage)
        return Served(upstream.name, body=result.body)

    def _record_refusal(self, ctx: RequestContext, model: str, error: ClusterError) -> None:
        """Requests refused before routing are logged too (status and code only)."""
        self._recorder.record(
            RequestRecord(
                ctx.id,
                ctx.endpoint,
                model[:200],
                error.status,
                key_id=ctx.key_id,
                user_id=ctx.user_id,
                error_code=error.code,
                latency_ms=ctx.elapsed_ms(),
            )
        )

    async def _entry(self, model: str, ctx: RequestContext, *, expect_embedding: bool) -> CatalogEntry:
        try:
            entry = self.catalog.resolve(model)
        except ModelNotFound:
            found = await self._extra.resolve(model, ctx.user_id) if self._extra else None
            if found is None:
                raise
            entry = found
        if (entry.model.task == "embedding") is not expect_embedding:
            kind = "an embedding model" if not expect_embedding else "not an embedding model"
            raise InvalidRequest(
                f"'{model}' is {kind}: use the matching endpoint", param="model", code="model_not_supported"
            )
        return entry

    async def _attempt(
        self,
        entry: CatalogEntry,
        capability: Capability,
        call: Callable[[Provider, str], Awaitable[T]],
        tee_only: bool = False,
        pinned: str | None = None,
    ) -> tuple[Upstream, T, int]:
        attempts, saturated = 0, False
        last: ProviderFailure | None = None
        # pinned: a sealed request only the enclave it was sealed to can open (no failover)
        with self._tracing.span("route", model=entry.id, capability=str(capability)):
            plan = self.router.plan(entry, capability, tee_only=tee_only, pinned=pinned)
        if tee_only and not plan:
            raise ProviderUnavailable(f"no confidential (TEE) provider serves '{entry.id}'")
        for upstream, upstream_model in plan:
            if attempts >= self.router.max_attempts:
                break
            if not self.router.acquire(upstream):
                saturated = saturated or upstream.full
                continue
            attempts += 1
            try:
                with self._tracing.span("provider.attempt", provider=upstream.name, attempt=attempts):
                    result = await call(upstream.provider, upstream_model)
            except ProviderFailure as failure:
                self.router.failed(upstream)
                last = failure
                continue
            except BaseException:
                self.router.abandoned(upstream)
                raise
            return upstream, result, attempts
        if saturated and last is None:
            raise Overloaded(
                f"every provider of '{entry.id}' is at capacity; retry shortly", headers={"retry-after": "1"}
            )
        detail = f" (last: {last.reason})" if last else ""
        raise ProviderUnavailable(f"no provider could serve '{entry.id}'{detail}")

    async def _finish(
        self,
        ctx: RequestContext,
        entry: CatalogEntry,
        upstream: Upstream,
        attempts: int,
        usage: Usage | None,
    ) -> None:
        latency = ctx.elapsed_ms()
        self.router.succeeded(upstream, latency)
        with self._tracing.span("payment.settle", model=entry.id):
            cost = await conclude(ctx, entry, usage)
        self._record(ctx, entry, upstream.name, 200, attempts, usage, latency, cost=cost)

    def _record(
        self,
        ctx: RequestContext,
        entry: CatalogEntry,
        provider: str,
        status: int,
        attempts: int,
        usage: Usage | None,
        latency: float,
        *,
        cost: int = 0,
        stream: bool = False,
        ttft: float | None = None,
        error_code: str | None = None,
    ) -> None:
        self._recorder.record(
            RequestRecord(
                id=ctx.id,
                endpoint=ctx.endpoint,
                model=entry.id,
                status=status,
                provider=provider,
                key_id=ctx.key_id,
                user_id=ctx.user_id,
                cost=cost,
                error_code=error_code,
                stream=stream,
                usage=usage or Usage(estimated=True),
                attempts=attempts,
                latency_ms=latency,
                ttft_ms=ttft,
            )
        )

    def _relay(
        self,
        ctx: RequestContext,
        entry: CatalogEntry,
        upstream: Upstream,
        attempts: int,
        stream: ChunkStream,
        first: bytes,
        ttft: float,
    ) -> _Relay:
        def finish(outcome: str, cost: int, usage: Usage | None) -> None:
            status = {"ok": 200, "failed": 502, "abandoned": 499, "payment_failed": 402}[outcome]
            error = {
                "ok": None,
                "failed": "stream_interrupted",
                "abandoned": "client_disconnected",
                "payment_failed": "payment_failed",
            }[outcome]
            self._record(
                ctx,
                entry,
                upstream.name,
                status,
                attempts,
                usage,
                ctx.elapsed_ms(),
                cost=cost,
                stream=True,
                ttft=ttft,
                error_code=error,
            )

        return _Relay(self.router, ctx, entry, upstream, stream, first, ttft, finish, self._tracing)


class _Relay:
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
    ) -> None:
        self._router, self._ctx, self._entry, self._upstream = router, ctx, entry, upstream
        self._tracing = tracing
        self._stream, self._first, self._ttft, self._finish = stream, first, ttft, finish
        self._outcome = "abandoned"  # until the stream ends one way or the other
        self._closed = False
        self._payment_error: ClusterError | None = None

    async def events(self) -> AsyncIterator[bytes]:
        try:
            yield self._first
            async for event in self._stream:
                if event.startswith(sse.DONE_PREFIX):
                    break  # held back: the payment is settled first, and may still fail
                yield event
            self._outcome = "ok"
            await self.close()
            if self._payment_error is not None:
                yield sse.event(self._payment_error.to_dict() | _openai_error(self._payment_error))
            elif self._ctx.payment is not None and (trailer := self._ctx.payment.trailer()):
                yield trailer
            yield sse.DONE
        except ProviderFailure as failure:
            self._outcome = "failed"
            message = f"the provider failed mid-stream: {failure.reason}"
            yield sse.event(
                {"error": {"message": message, "type": "server_error", "param": None, "code": "stream_interrupted"}}
            )
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


def _openai_error(error: ClusterError) -> dict[str, object]:
    """Mid-stream errors always carry OpenAI's ``error`` object, whatever else the error's own body holds."""
    return {"error": {"message": error.message, "type": error.type, "param": error.param, "code": error.code}}


def _chat(provider: Provider) -> ChatProvider:
    """A provider the router planned for chat: it declared the capability, so it implements the protocol."""
    return cast(ChatProvider, provider)


async def _complete(provider: ChatProvider, request: ChatCompletionRequest, model: str, call: Call) -> Completion:
    result = await provider.chat(request, model, call)
    if not isinstance(result, Completion):  # an adapter that only streams
        await result.aclose()
        raise ProviderFailure(provider.name, "returned a stream for a non-streaming request")
    return result


async def _open_stream(
    provider: ChatProvider, request: ChatCompletionRequest, model: str, call: Call
) -> tuple[ChunkStream, bytes]:
    """Start a stream and wait for its first event, so that failures up to here can still fail over."""
    result = await provider.chat(request, model, call)
    if isinstance(result, Completion):
        raise ProviderFailure(provider.name, "returned a completion for a streaming request")
    try:
        first = await result.__anext__()
    except StopAsyncIteration:
        await result.aclose()
        raise ProviderFailure(provider.name, "stream ended before its first event") from None
    except BaseException:
        with anyio.CancelScope(shield=True):
            await result.aclose()
        raise
    return result, first


__all__ = ["InferenceService", "RequestContext", "Served"]
