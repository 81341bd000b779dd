"""The one protocol every inference adapter implements, and the results it hands back.

A chat result is either a whole ``Completion`` (JSON bytes ready for the client) or a ``ChunkStream`` of
complete SSE events (``b"data: ...\\n\\n"``) whose ``usage`` is known once the stream ends. Adapters raise
``ProviderFailure`` for anything the router may route around (connect error, timeout, 5xx, 429) and
``cluster.errors.UpstreamError`` for the upstream's own verdict on a bad request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol, runtime_checkable

from cluster.gateway.protocol import ChatCompletionRequest, EmbeddingRequest


class Capability(StrEnum):
    CHAT = "chat"
    EMBEDDINGS = "embeddings"


@dataclass(slots=True)
class TokenUsage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    #: True when counted by us because the upstream did not report usage.
    estimated: bool = False


@dataclass(slots=True)
class Completion:
    body: bytes
    usage: TokenUsage | None
    #: response headers the provider adds (a confidential provider's receipt id)
    headers: dict[str, str] | None = None


@dataclass(slots=True)
class EmbeddingResult:
    body: bytes
    usage: TokenUsage | None


class ChunkStream(Protocol):
    """SSE events in order; ``usage`` is filled in when the last event has been read."""

    usage: TokenUsage | None

    def __aiter__(self) -> AsyncIterator[bytes]: ...

    async def __anext__(self) -> bytes: ...

    async def aclose(self) -> None: ...


class ProviderFailure(Exception):
    """The provider could not serve this request; another provider may."""

    def __init__(self, provider: str, reason: str, *, status: int | None = None) -> None:
        super().__init__(f"{provider}: {reason}")
        self.provider = provider
        self.reason = reason
        self.status = status


@runtime_checkable
class Provider(Protocol):
    name: str
    capabilities: frozenset[Capability]

    async def chat(self, request: ChatCompletionRequest, upstream_model: str) -> Completion | ChunkStream: ...

    async def embed(self, request: EmbeddingRequest, upstream_model: str) -> EmbeddingResult: ...

    async def aclose(self) -> None: ...
