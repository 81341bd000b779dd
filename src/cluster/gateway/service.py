"""The inference request path: catalog → router → provider (with failover) → metering.

Failover: a connect error, timeout, 5xx or 429 from a provider before the first byte has gone to the client
moves the request to the next provider of its plan, up to ``router.max_attempts``. For streams the first
event is awaited before the response starts, so a provider that fails before its first token is also
routed around. A failure after that ends the stream with an OpenAI-style error event and ``[DONE]``: tokens
the client has already seen cannot be taken back, and a second provider would not continue them coherently.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Protocol, TypeVar, cast

from cluster.billing import pricing
from cluster.errors import ClusterError, InvalidRequest, ModelNotFound, Overloaded, ProviderUnavailable
from cluster.gateway.admission import abort, admit, conclude
from cluster.gateway.catalog import Catalog, CatalogEntry
from cluster.gateway.context import RequestContext, Served
from cluster.gateway.relay import CHAT, Framing, Relay, open_stream
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
from cluster.wire.openai import ChatCompletionRequest, EmbeddingRequest, ModelList

T = TypeVar("T")

#: the catalog tasks each capability serves: a model of another task is refused (``model_not_supported``)
TASKS: dict[Capability, frozenset[str]] = {
    Capability.CHAT: frozenset({"chat", "code", "reasoning", "instruct"}),
    Capability.EMBEDDINGS: frozenset({"embedding"}),
    Capability.SPEECH: frozenset({"tts"}),
    Capability.TRANSCRIPTION: frozenset({"stt"}),
    Capability.RERANK: frozenset({"rerank"}),
    Capability.IMAGES: frozenset({"image"}),
}


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
        return await self.recorded(ctx, request.model, self._chat(request, ctx))

    async def embed(self, request: EmbeddingRequest, ctx: RequestContext) -> Served:
        return await self.recorded(ctx, request.model, self._embed(request, ctx))

    async def recorded(self, ctx: RequestContext, model: str, work: Awaitable[T]) -> T:
        """``work``, with a refusal (any of the error tree's answers) logged against ``model``."""
        try:
            return await work
        except ClusterError as error:
            self._record_refusal(ctx, model, error)
            raise

    async def _chat(self, request: ChatCompletionRequest, ctx: RequestContext) -> Served:
        entry = await self.resolve(request.model, ctx, Capability.CHAT)
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
                opened = lambda p, m: _open_stream(_chat(p), request, m, call)  # noqa: E731
                upstream, (stream, first), attempts = await self._attempt(*route, opened, tee_only, ctx.pinned_provider)
                ctx.headers.update(stream.headers)
        except BaseException:
            await abort(ctx)
            raise
        if request.stream:
            return self.relay(ctx, entry, upstream, attempts, stream, first)
        await self.finish(ctx, entry, upstream, attempts, completion.usage)
        return Served(upstream.name, body=completion.body)

    async def _embed(self, request: EmbeddingRequest, ctx: RequestContext) -> Served:
        entry = await self.resolve(request.model, ctx, Capability.EMBEDDINGS)
        call = Call(ctx.user_id)
        upstream, result, attempts = await self.serve(
            ctx,
            entry,
            Capability.EMBEDDINGS,
            lambda: pricing.embedding_bound(request),
            lambda p, m: cast(EmbeddingsProvider, p).embed(request, m, call),
        )
        await self.finish(ctx, entry, upstream, attempts, result.usage)
        return Served(upstream.name, body=result.body)

    async def serve(
        self,
        ctx: RequestContext,
        entry: CatalogEntry,
        capability: Capability,
        bound: Callable[[], Usage],
        call: Callable[[Provider, str], Awaitable[T]],
    ) -> tuple[Upstream, T, int]:
        """Admit a request at its worst case ``bound`` and route ``call`` (with failover); on any failure the
        reservation is returned. No confidential provider serves these capabilities yet: a request that must
        stay in a TEE is refused rather than sent elsewhere."""
        if ctx.require_tee or entry.model.tee:
            raise ProviderUnavailable(f"no confidential (TEE) provider serves {capability} for '{entry.id}'")
        try:
            with self._tracing.span("payment.authorize", model=entry.id):
                await admit(ctx, entry, bound)
            return await self._attempt(entry, capability, call)
        except BaseException:
            await abort(ctx)
            raise

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

    async def resolve(self, model: str, ctx: RequestContext, capability: Capability) -> CatalogEntry:
        """The catalog (or fine-tuned) model ``model`` names, if it is one this capability serves."""
        try:
            entry = self.catalog.resolve(model)
        except ModelNotFound:
            found = await self._extra.resolve(model, ctx.user_id) if self._extra else None
            if found is None:
                raise
            entry = found
        if entry.model.task not in TASKS[capability]:
            raise InvalidRequest(
                f"'{model}' is a {entry.model.task} model, not one for {capability}: use the matching endpoint",
                param="model",
                code="model_not_supported",
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

    async def finish(
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

    def relay(
        self,
        ctx: RequestContext,
        entry: CatalogEntry,
        upstream: Upstream,
        attempts: int,
        stream: ChunkStream,
        first: bytes,
        framing: Framing = CHAT,
    ) -> Served:
        """A stream whose first chunk has arrived, relayed to the client and settled once it ends."""
        ttft = ctx.elapsed_ms()

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

        relay = Relay(self.router, ctx, entry, upstream, stream, first, ttft, finish, self._tracing, framing)
        return Served(upstream.name, events=relay.events(), close=relay.close)


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
    result = await provider.chat(request, model, call)
    if isinstance(result, Completion):
        raise ProviderFailure(provider.name, "returned a completion for a streaming request")
    return await open_stream(result, provider.name)


__all__ = ["InferenceService", "RequestContext", "Served"]
