"""The HTTP side of every adapter for an upstream that speaks OpenAI's API (vLLM, SGLang, Ollama, llama.cpp
server, hosted APIs): ``OpenAIUpstream`` and the chat stream it relays.

One pooled ``aiohttp.ClientSession`` per provider. (httpx was the first choice; profiling showed its pool
checking every idle connection with a syscall on each request, so throughput fell as concurrency rose:
aiohttp's connector hands out idle connections in O(1).) Requests are re-serialised from the validated
model with the upstream's own model name; responses go back as the upstream's bytes. Streams are split
into events and passed through; only the event that carries ``usage`` is parsed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import aiohttp
import orjson

from cluster.errors import InvalidRequest, UpstreamError
from cluster.metering import Usage
from cluster.providers.base import Completion, ProviderFailure
from cluster.settings import ProviderConfig
from cluster.wire.openai import ChatCompletionRequest
from cluster.wire.sse import DONE, data_of, split_events

_USAGE_MARKERS = (b'"usage":{', b'"usage": {')
_TRANSPORT_ERRORS = (aiohttp.ClientError, TimeoutError)


class OpenAIUpstream:
    """The HTTP side every OpenAI-speaking adapter shares: the pooled session, posting, opening a stream, and
    the upstream's status mapped to a failover (``ProviderFailure``) or the caller's error."""

    tee = False

    def __init__(self, config: ProviderConfig) -> None:
        self.name = config.name
        self._config = config
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None:  # created on first use, inside the running loop
            config = self._config
            headers = {"content-type": "application/json", "accept-encoding": "identity", **config.headers}
            if config.api_key is not None:
                headers["authorization"] = f"Bearer {config.api_key.get_secret_value()}"
            pool = config.max_concurrency
            self._session = aiohttp.ClientSession(
                base_url=str(config.base_url).rstrip("/") + "/",
                headers=headers,
                timeout=aiohttp.ClientTimeout(sock_connect=config.connect_timeout, sock_read=config.read_timeout),
                connector=aiohttp.TCPConnector(limit=pool, limit_per_host=pool, keepalive_timeout=30),
                auto_decompress=False,
                skip_auto_headers=("User-Agent",),
            )
        return self._session

    @staticmethod
    def _chat_body(request: ChatCompletionRequest, upstream_model: str) -> bytes:
        """The exact bytes sent upstream (a confidential provider hashes them)."""
        payload = request.model_dump(exclude_unset=True)
        payload["model"] = upstream_model
        if request.stream:  # ask for usage even when the client did not, so that metering never has to guess
            payload["stream_options"] = {**payload.get("stream_options", {}), "include_usage": True}
        return _encoded(payload)

    @staticmethod
    def _completion(request: ChatCompletionRequest, body: bytes) -> Completion:
        return Completion(body, _usage_of(body) or _estimate(request, body))

    async def _open_stream(self, sent: bytes) -> aiohttp.ClientResponse:
        return await self._open("chat/completions", data=sent)

    async def _open(self, path: str, **kwargs: Any) -> aiohttp.ClientResponse:
        """A response whose status is good and whose body is still to be read."""
        try:
            response = await self._client().post(path, **kwargs)
        except _TRANSPORT_ERRORS as exc:
            raise ProviderFailure(self.name, f"{type(exc).__name__}: {exc}") from exc
        if response.status != 200:
            try:
                body = await response.read()
            except _TRANSPORT_ERRORS:
                body = b""
            finally:
                response.release()
            self._raise_for_status(response.status, body)
        return response

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, path: str, data: bytes) -> bytes:
        try:
            async with self._client().post(path, data=data) as response:
                body = await response.read()
        except _TRANSPORT_ERRORS as exc:
            raise ProviderFailure(self.name, f"{type(exc).__name__}: {exc}") from exc
        self._raise_for_status(response.status, body)
        return body

    def _raise_for_status(self, status: int, body: bytes) -> None:
        if status < 400:
            return
        if status == 429 or status >= 500:
            raise ProviderFailure(self.name, f"upstream answered {status}", status=status)
        raise UpstreamError(status, _error_message(body, status), body)


class UpstreamStream:
    """The upstream's SSE events, passed through; the usage event is read (and hidden unless asked for)."""

    def __init__(
        self,
        provider: str,
        response: aiohttp.ClientResponse,
        request: ChatCompletionRequest,
        tap: Callable[[bytes], None] | None = None,
    ) -> None:
        """``tap`` sees the upstream's bytes exactly as they arrive (a confidential provider hashes them)."""
        self.usage: Usage | None = None
        self.headers: dict[str, str] = {}
        self._provider = provider
        self._response = response
        raw = response.content.iter_any()
        self._events: AsyncIterator[bytes] = split_events(_tapped(raw, tap) if tap else raw)
        self._forward_usage = request.wants_usage_chunk
        self._request = request
        self._chunks = 0
        self._done = False

    def __aiter__(self) -> UpstreamStream:
        return self

    async def __anext__(self) -> bytes:
        while True:
            try:
                event = await self._events.__anext__()
            except StopAsyncIteration:
                if not self._done:
                    raise ProviderFailure(self._provider, "stream ended before [DONE]") from None
                raise
            except _TRANSPORT_ERRORS as exc:
                raise ProviderFailure(self._provider, f"stream broke: {type(exc).__name__}") from exc
            if event == DONE:
                self._done = True
                if self.usage is None:
                    self.usage = self._estimate()
                return event
            if any(marker in event for marker in _USAGE_MARKERS):
                data = orjson.loads(data_of(event))
                self.usage = _usage_from(data.get("usage"))
                if not self._forward_usage and not data.get("choices"):
                    continue
            self._chunks += 1
            return event

    def _estimate(self) -> Usage:
        # The upstream reported no usage: about one token per streamed chunk, four prompt bytes per token.
        return Usage(_prompt_estimate(self._request), self._chunks, estimated=True)

    async def aclose(self) -> None:
        if self.usage is None:
            self.usage = self._estimate()
        if self._done:
            self._response.release()  # the connection goes back to the pool
        else:
            self._response.close()  # a half-read body cannot be reused


def _encoded(payload: dict[str, Any]) -> bytes:
    """The JSON sent upstream. Parameters passed through unchecked (an engine's own) may hold what JSON cannot
    carry here (an integer past 64 bits): that is the caller's error, naming the parameter."""
    try:
        return orjson.dumps(payload)
    except orjson.JSONEncodeError:
        for name, value in payload.items():
            try:
                orjson.dumps(value)
            except orjson.JSONEncodeError as error:
                raise InvalidRequest(f"{name} cannot be sent: {error}", param=name) from None
        raise


async def _tapped(chunks: AsyncIterator[bytes], tap: Callable[[bytes], None]) -> AsyncIterator[bytes]:
    async for chunk in chunks:
        tap(chunk)
        yield chunk


def _prompt_estimate(request: ChatCompletionRequest) -> int:
    return sum(len(str(m.content or "")) for m in request.messages) // 4 + 1


def _estimate(request: ChatCompletionRequest, body: bytes) -> Usage:
    """The upstream reported no usage: about four bytes of text per token, each way."""
    try:
        choices = orjson.loads(body).get("choices") or []
        text = "".join(str((c.get("message") or {}).get("content") or "") for c in choices)
    except (orjson.JSONDecodeError, AttributeError):
        text = ""
    return Usage(_prompt_estimate(request), len(text) // 4 + 1, estimated=True)


def _usage_of(body: bytes) -> Usage | None:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return _usage_from(data.get("usage")) if isinstance(data, dict) else None


def _usage_from(usage: Any) -> Usage | None:
    if not isinstance(usage, dict):
        return None
    try:  # an upstream's report is not trusted blindly: whole, non-negative counts
        return Usage(max(int(usage.get("prompt_tokens") or 0), 0), max(int(usage.get("completion_tokens") or 0), 0))
    except (TypeError, ValueError, OverflowError):
        return None


def _error_message(body: bytes, status: int) -> str:
    try:
        data = orjson.loads(body)
        error = data.get("error") if isinstance(data, dict) else None
        if isinstance(error, dict) and error.get("message"):
            return str(error["message"])
        if isinstance(error, str):
            return error
    except orjson.JSONDecodeError:
        pass
    return f"upstream answered {status}: {body[:200].decode(errors='replace')}"
