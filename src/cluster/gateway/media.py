"""Speech, transcription, rerank and score, and images on the inference path: the same catalog, routing with
failover, holds and charges, limits, x402 and request log as chat (``InferenceService`` does those), with what
each modality adds: its worst case (characters, seconds of decoded audio, searches, images), its result shape,
and for images a store that serves ``url`` answers.
"""

from __future__ import annotations

import base64
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import cast

import anyio
import orjson

from cluster.errors import InvalidRequest, NotFound
from cluster.gateway.admission import abort
from cluster.gateway.context import RequestContext, Served
from cluster.gateway.images import ImageStore
from cluster.gateway.relay import EVENTS, RAW, open_stream
from cluster.gateway.service import InferenceService
from cluster.media.audio import decode
from cluster.metering import Usage
from cluster.providers.base import (
    AudioUpload,
    Call,
    Capability,
    ChunkStream,
    Completion,
    ImagesProvider,
    Provider,
    RerankProvider,
    SpeechProvider,
    TranscriptionProvider,
)
from cluster.wire import sse
from cluster.wire.audio import SPEECH_CONTENT_TYPES, SpeechRequest, TranscriptionRequest
from cluster.wire.images import ImageData, ImageRequest, ImagesResponse, ImageUsage
from cluster.wire.rerank import RerankRequest, ScoreRequest


class MediaService:
    def __init__(
        self, inference: InferenceService, images: ImageStore | None, *, max_audio_seconds: float, max_decodes: int = 2
    ) -> None:
        self._core = inference
        self._images = images
        self._max_audio_seconds = max_audio_seconds
        #: decoding an upload holds its samples in memory and a core busy: a few at a time
        self._decoding = anyio.Semaphore(max_decodes)

    # -- speech ---------------------------------------------------------------------------------------------
    async def speech(self, request: SpeechRequest, ctx: RequestContext) -> Served:
        return await self._core.recorded(ctx, request.model, self._speech(request, ctx))

    async def _speech(self, request: SpeechRequest, ctx: RequestContext) -> Served:
        core = self._core
        entry = await core.resolve(request.model, ctx, Capability.SPEECH)
        call = Call(ctx.user_id)
        events = request.stream_format == "sse"

        async def opened(provider: Provider, model: str) -> tuple[ChunkStream, bytes]:
            audio = await cast(SpeechProvider, provider).speak(request, model, call)
            return await open_stream(SpeechEvents(audio) if events else audio, provider.name)

        bound = Usage(characters=len(request.input))
        upstream, (stream, first), attempts = await core.serve(ctx, entry, Capability.SPEECH, lambda: bound, opened)
        served = core.relay(ctx, entry, upstream, attempts, stream, first, EVENTS if events else RAW)
        served.content_type = None if events else SPEECH_CONTENT_TYPES[request.response_format]
        return served

    # -- transcription and translation ----------------------------------------------------------------------
    async def transcribe(
        self, request: TranscriptionRequest, data: bytes, filename: str, content_type: str, ctx: RequestContext
    ) -> Served:
        return await self._core.recorded(
            ctx, request.model, self._transcribe(request, data, filename, content_type, ctx)
        )

    async def _transcribe(
        self, request: TranscriptionRequest, data: bytes, filename: str, content_type: str, ctx: RequestContext
    ) -> Served:
        core = self._core
        entry = await core.resolve(request.model, ctx, Capability.TRANSCRIPTION)
        if "word" in request.timestamp_granularities and request.response_format != "verbose_json":
            raise InvalidRequest(
                "timestamp_granularities needs response_format verbose_json", param="timestamp_granularities"
            )
        # decoded before anything is held: a file that is not audio costs nothing, and its length prices it
        async with self._decoding:
            decoded = await anyio.to_thread.run_sync(lambda: decode(data, max_seconds=self._max_audio_seconds))
        audio = AudioUpload(data, filename, content_type, decoded)
        call = Call(ctx.user_id)

        async def run(provider: Provider, model: str) -> Completion | tuple[ChunkStream, bytes]:
            result = await cast(TranscriptionProvider, provider).transcribe(request, audio, model, call)
            if isinstance(result, Completion):
                return result
            return await open_stream(result, provider.name)

        bound = Usage(seconds=math.ceil(decoded.seconds))
        upstream, result, attempts = await core.serve(ctx, entry, Capability.TRANSCRIPTION, lambda: bound, run)
        if isinstance(result, Completion):
            await core.finish(ctx, entry, upstream, attempts, result.usage or bound)
            return Served(upstream.name, body=result.body, content_type=result.content_type)
        stream, first = result
        return core.relay(ctx, entry, upstream, attempts, stream, first, EVENTS)

    # -- rerank and score -----------------------------------------------------------------------------------
    async def rerank(self, request: RerankRequest, ctx: RequestContext) -> Served:
        # a bi-encoder reads the query once and each document once; a cross-encoder reads the query per document
        size = len(request.query.encode()) * len(request.documents) + sum(len(t.encode()) for t in request.texts)
        bound = Usage(prompt_tokens=size, searches=request.searches)
        call = Call(ctx.user_id)
        return await self._unary(
            request.model, ctx, bound, lambda p, m: cast(RerankProvider, p).rerank(request, m, call)
        )

    async def score(self, request: ScoreRequest, ctx: RequestContext) -> Served:
        pairs = request.pairs
        bound = Usage(
            prompt_tokens=sum(len(a.encode()) + len(b.encode()) for a, b in pairs),
            searches=-(-len(pairs) // 100),
        )
        call = Call(ctx.user_id)
        return await self._unary(
            request.model, ctx, bound, lambda p, m: cast(RerankProvider, p).score(request, m, call)
        )

    async def _unary(
        self, model: str, ctx: RequestContext, bound: Usage, call: Callable[[Provider, str], Awaitable[Completion]]
    ) -> Served:
        """A rerank-capability call answered in one body (rerank, score), with refusals recorded."""

        async def work() -> Served:
            core = self._core
            entry = await core.resolve(model, ctx, Capability.RERANK)
            upstream, result, attempts = await core.serve(ctx, entry, Capability.RERANK, lambda: bound, call)
            await core.finish(ctx, entry, upstream, attempts, result.usage)
            return Served(upstream.name, body=result.body, content_type=result.content_type)

        return await self._core.recorded(ctx, model, work())

    # -- images ---------------------------------------------------------------------------------------------
    async def images(self, request: ImageRequest, ctx: RequestContext, base_url: str) -> Served:
        return await self._core.recorded(ctx, request.model, self._generate(request, ctx, base_url))

    async def image(self, image_id: str, key: str) -> tuple[bytes, str, float]:
        """An image answered by ``url``, while it lasts: its bytes, content type, and how long it may be cached."""
        if self._images is None:
            raise NotFound("this server keeps no images", param="image_id", code="image_not_found")
        image, content_type = await self._images.get(image_id, key)
        return image, content_type, self._images.ttl

    async def _generate(self, request: ImageRequest, ctx: RequestContext, base_url: str) -> Served:
        core = self._core
        entry = await core.resolve(request.model, ctx, Capability.IMAGES)
        if request.response_format == "url" and self._images is None:
            raise InvalidRequest("this server keeps no images: ask for b64_json", param="response_format")
        call = Call(ctx.user_id)
        upstream, result, attempts = await core.serve(
            ctx,
            entry,
            Capability.IMAGES,
            lambda: Usage(images=request.n),
            lambda p, m: cast(ImagesProvider, p).generate(request, m, call),
        )
        try:  # served but not yet answered: a failure here (the store's database) returns the hold
            data = await self._answer(request, result.images, result.revised_prompts, base_url)
        except BaseException:
            core.router.abandoned(upstream)
            await abort(ctx)
            raise
        await core.finish(ctx, entry, upstream, attempts, result.usage)
        response = ImagesResponse(
            created=int(time.time()),
            data=data,
            size=None if request.size == "auto" else request.size,
            usage=ImageUsage(images=len(data)),
        )
        return Served(upstream.name, body=orjson.dumps(response.model_dump(exclude_none=True)))

    async def _answer(
        self, request: ImageRequest, images: list[bytes], revised: list[str | None], base_url: str
    ) -> list[ImageData]:
        data: list[ImageData] = []
        for image, prompt in zip(images, revised, strict=True):
            if request.response_format == "url":
                assert self._images is not None
                data.append(ImageData(url=await self._images.put(image, base_url), revised_prompt=prompt))
            else:  # tens of megabytes at most: encoded off the event loop
                encoded = await anyio.to_thread.run_sync(_base64, image)
                data.append(ImageData(b64_json=encoded, revised_prompt=prompt))
        return data


def _base64(data: bytes) -> str:
    return base64.b64encode(data).decode()


class SpeechEvents:
    """Audio chunks as OpenAI's speech SSE: ``speech.audio.delta`` events with base64 audio, then one
    ``speech.audio.done`` with the usage."""

    def __init__(self, audio: ChunkStream) -> None:
        self._audio = audio
        self.headers = audio.headers
        self._events = self._frame()

    @property
    def usage(self) -> Usage | None:
        return self._audio.usage

    @usage.setter
    def usage(self, value: Usage | None) -> None:
        self._audio.usage = value

    async def _frame(self) -> AsyncIterator[bytes]:
        async for chunk in self._audio:
            if chunk:
                yield sse.event({"type": "speech.audio.delta", "audio": base64.b64encode(chunk).decode()})
        characters = self._audio.usage.characters if self._audio.usage else 0
        yield sse.event({"type": "speech.audio.done", "usage": {"input_characters": characters}})

    def __aiter__(self) -> SpeechEvents:
        return self

    async def __anext__(self) -> bytes:
        return await self._events.__anext__()

    async def aclose(self) -> None:
        await self._audio.aclose()
