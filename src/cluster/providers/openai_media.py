"""Speech, transcription, rerank and score, and images from any OpenAI-compatible upstream (OpenAI, vLLM and
vLLM-Omni, LocalAI, Speaches, Infinity, or Cohere/Jina-shaped rerankers behind such a URL).

Requests go up in the shape the upstream expects, with its own model name. Speech comes back as the upstream's
audio bytes, passed through chunk by chunk (the gateway frames them as SSE when the client asked); transcripts
as the upstream's body in the requested format; rerank results are normalised to Cluster's shape (Infinity
answers ``document`` as a plain string, Cohere v2 leaves documents out); images are asked for as ``b64_json`` so
the gateway can answer either format, and an upstream that only gives URLs has them fetched (bounded).
"""

from __future__ import annotations

import base64
import binascii
import math
import uuid
from typing import Any
from urllib.parse import urlsplit

import aiohttp
import orjson

from cluster.metering import Usage
from cluster.providers.base import AudioUpload, Call, Completion, GeneratedImages, ProviderFailure
from cluster.providers.openai_http import _TRANSPORT_ERRORS, OpenAIUpstream, _encoded, _usage_from
from cluster.wire.audio import SpeechRequest, TranscriptionRequest
from cluster.wire.images import ImageRequest
from cluster.wire.rerank import (
    BilledUnits,
    RerankDocument,
    RerankMeta,
    RerankRequest,
    RerankResponse,
    RerankResult,
    RerankUsage,
    ScoreRequest,
)
from cluster.wire.sse import split_events

_MAX_IMAGE_BYTES = 50 * 1024 * 1024


class OpenAIMedia(OpenAIUpstream):
    async def speak(self, request: SpeechRequest, upstream_model: str, call: Call) -> UpstreamBytes:
        payload = request.model_dump(exclude_unset=True, exclude={"stream_format"})
        payload["model"] = upstream_model
        response = await self._open("audio/speech", data=_encoded(payload))
        return UpstreamBytes(self.name, response, Usage(characters=len(request.input)), events=False)

    async def transcribe(
        self, request: TranscriptionRequest, audio: AudioUpload, upstream_model: str, call: Call
    ) -> Completion | UpstreamBytes:
        form = aiohttp.FormData()
        form.add_field("file", audio.data, filename=audio.filename, content_type=audio.content_type)
        fields: dict[str, Any] = {
            "model": upstream_model,
            "response_format": request.response_format,
            "temperature": str(request.temperature),
            "language": request.language,
            "prompt": request.prompt,
        }
        if request.task == "transcribe":
            for granularity in request.timestamp_granularities:
                form.add_field("timestamp_granularities[]", granularity)
        if request.stream:
            fields["stream"] = "true"
        for name, value in fields.items():
            if value is not None and not (name == "language" and request.task == "translate"):
                form.add_field(name, value)
        path = "audio/translations" if request.task == "translate" else "audio/transcriptions"
        payload = form()
        usage = Usage(seconds=math.ceil(audio.decoded.seconds))
        response = await self._open(path, data=payload, headers={"content-type": payload.content_type})
        if request.stream:
            return UpstreamBytes(self.name, response, usage, events=True)
        try:
            body = await response.read()
        except _TRANSPORT_ERRORS as exc:
            raise ProviderFailure(self.name, f"{type(exc).__name__}: {exc}") from exc
        finally:
            response.release()
        return Completion(body, usage, content_type=response.headers.get("content-type", "application/json"))

    async def rerank(self, request: RerankRequest, upstream_model: str, call: Call) -> Completion:
        payload = request.model_dump(exclude_unset=True, exclude={"top_k"})
        payload.update(model=upstream_model, documents=request.texts, top_n=request.limit, return_documents=False)
        data = _json(await self._post("rerank", _encoded(payload)))
        texts = request.texts
        results = []
        try:
            for item in data.get("results") or []:
                index = int(item["index"])
                if not 0 <= index < len(texts):
                    raise ValueError(f"index {index} is out of range")
                document = RerankDocument(text=texts[index]) if request.return_documents else None
                score = float(item["relevance_score"])
                results.append(RerankResult(index=index, relevance_score=score, document=document))
        except (KeyError, TypeError, ValueError) as exc:
            raise ProviderFailure(self.name, f"answered rerank results in an unknown shape ({exc})") from exc
        results.sort(key=lambda r: -r.relevance_score)
        tokens = _tokens(data)
        response = RerankResponse(
            id=str(data.get("id") or f"rerank-{uuid.uuid4().hex}"),
            model=request.model,
            results=results[: request.limit],
            usage=RerankUsage(prompt_tokens=tokens, total_tokens=tokens),
            meta=RerankMeta(billed_units=BilledUnits(search_units=request.searches)),
        )
        body = orjson.dumps(response.model_dump(exclude_none=True))
        return Completion(body, Usage(prompt_tokens=tokens, searches=request.searches))

    async def score(self, request: ScoreRequest, upstream_model: str, call: Call) -> Completion:
        payload = request.model_dump(exclude_unset=True)
        payload["model"] = upstream_model
        body = await self._post("score", _encoded(payload))
        data = _json(body)
        data["model"] = request.model
        tokens = _tokens(data)
        searches = -(-len(request.pairs) // 100)
        return Completion(orjson.dumps(data), Usage(prompt_tokens=tokens, searches=searches))

    async def generate(self, request: ImageRequest, upstream_model: str, call: Call) -> GeneratedImages:
        payload = request.model_dump(exclude_unset=True)
        payload["model"] = upstream_model
        if upstream_model.startswith("gpt-image"):
            payload.pop("response_format", None)  # these always answer base64 and refuse the parameter
        else:
            payload["response_format"] = "b64_json"
        data = _json(await self._post("images/generations", _encoded(payload)))
        images: list[bytes] = []
        revised: list[str | None] = []
        items = data.get("data")
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise ProviderFailure(self.name, "answered images in an unknown shape")
        for item in items[: request.n]:
            images.append(await self._image_bytes(item))
            prompt = item.get("revised_prompt")
            revised.append(prompt if isinstance(prompt, str) else None)
        if not images:
            raise ProviderFailure(self.name, "answered no image")
        return GeneratedImages(images, revised, Usage(images=len(images)))

    async def _image_bytes(self, item: dict[str, Any]) -> bytes:
        if item.get("b64_json"):
            try:
                return base64.b64decode(item["b64_json"], validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ProviderFailure(self.name, "answered an image that is not base64") from exc
        url = item.get("url")
        if not isinstance(url, str) or urlsplit(url).scheme not in ("http", "https"):
            raise ProviderFailure(self.name, "answered an image with neither b64_json nor an http(s) url")
        # an upstream that ignores response_format: its (short-lived) URL, fetched now on a session of its own,
        # so that the provider's key and headers never go to whatever host the URL names; no redirects
        timeout = aiohttp.ClientTimeout(sock_connect=self._config.connect_timeout, total=self._config.read_timeout)
        try:
            async with (
                aiohttp.ClientSession(timeout=timeout) as bare,
                bare.get(url, allow_redirects=False) as response,
            ):
                if response.status != 200:
                    raise ProviderFailure(self.name, f"image URL answered {response.status}")
                body = await response.content.read(_MAX_IMAGE_BYTES + 1)
        except _TRANSPORT_ERRORS as exc:
            raise ProviderFailure(self.name, f"{type(exc).__name__}: {exc}") from exc
        if len(body) > _MAX_IMAGE_BYTES:
            raise ProviderFailure(self.name, "answered an image larger than 50 MB")
        return body


class UpstreamBytes:
    """An upstream's body passed through as it arrives: raw audio, or (``events``) its SSE events one by one."""

    def __init__(self, provider: str, response: aiohttp.ClientResponse, usage: Usage, *, events: bool) -> None:
        self.usage: Usage | None = usage
        self.headers: dict[str, str] = {}
        self._provider = provider
        self._response = response
        raw = response.content.iter_any()
        self._chunks = split_events(raw) if events else raw
        self._done = False

    def __aiter__(self) -> UpstreamBytes:
        return self

    async def __anext__(self) -> bytes:
        try:
            return await self._chunks.__anext__()
        except StopAsyncIteration:
            self._done = True
            raise
        except _TRANSPORT_ERRORS as exc:
            raise ProviderFailure(self._provider, f"stream broke: {type(exc).__name__}") from exc

    async def aclose(self) -> None:
        if self._done:
            self._response.release()
        else:
            self._response.close()


def _json(body: bytes) -> dict[str, Any]:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        data = None
    if not isinstance(data, dict):
        raise ProviderFailure("upstream", "answered something other than a JSON object")
    return data


def _tokens(data: dict[str, Any]) -> int:
    usage = _usage_from(data.get("usage"))
    if usage is not None and usage.prompt_tokens:
        return usage.prompt_tokens
    try:  # Cohere reports tokens under meta
        return max(int((data.get("meta") or {}).get("billed_units", {}).get("input_tokens") or 0), 0)
    except (TypeError, ValueError, AttributeError):
        return 0
