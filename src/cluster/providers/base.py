"""What an inference adapter is: a ``Provider`` (name, declared capabilities, close) that implements one small
protocol per capability it declares, and the results it hands back.

An adapter implements only what it serves: a chat-only engine has no ``embed``. The router plans a request
over the providers that declare the request's capability (``Capability``), one protocol each (``PROTOCOLS``).

Every call carries a ``Call``: who it is made for, passed explicitly (a confidential provider files the
receipt under that account). A chat result is either a whole ``Completion`` (JSON bytes ready for the client)
or a ``ChunkStream`` of complete SSE events (``b"data: ...\\n\\n"``) whose ``usage`` is known once the stream
ends. Adapters raise ``ProviderFailure`` for anything the router may route around (connect error, timeout, 5xx,
429) and ``cluster.errors.UpstreamError`` for the upstream's own verdict on a bad request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from cluster.media.audio import DecodedAudio
from cluster.metering import Usage
from cluster.wire.audio import SpeechRequest, TranscriptionRequest
from cluster.wire.images import ImageRequest
from cluster.wire.openai import ChatCompletionRequest, EmbeddingRequest
from cluster.wire.rerank import RerankRequest, ScoreRequest


class Capability(StrEnum):
    CHAT = "chat"
    EMBEDDINGS = "embeddings"
    IMAGES = "images"
    SPEECH = "speech"
    TRANSCRIPTION = "transcription"
    RERANK = "rerank"


@dataclass(frozen=True, slots=True)
class Call:
    """Per-call context a provider may need, passed with every call (never through a context variable)."""

    #: the account the call is served for (a confidential provider files the receipt under it)
    user_id: str | None = None


@dataclass(slots=True)
class Completion:
    body: bytes
    usage: Usage | None
    #: response headers the provider adds (a confidential provider's receipt id)
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"


@dataclass(slots=True)
class AudioUpload:
    """An uploaded audio file: its bytes as sent (for an upstream) and decoded (for a local engine; decoding
    also measured its duration, which priced the request)."""

    data: bytes
    filename: str
    content_type: str
    decoded: DecodedAudio


@dataclass(slots=True)
class GeneratedImages:
    """Encoded images (PNG unless the request asked otherwise) and, per image, the prompt the model used."""

    images: list[bytes]
    revised_prompts: list[str | None]
    usage: Usage


@dataclass(slots=True)
class EmbeddingResult:
    body: bytes
    usage: Usage | None


class ChunkStream(Protocol):
    """SSE events in order; ``usage`` is filled in when the last event has been read."""

    usage: Usage | None
    #: response headers the provider adds (a confidential provider's receipt id)
    headers: dict[str, str]

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
    #: a confidential (TEE) provider: attested before it is sent anything, every response signed
    tee: bool

    async def aclose(self) -> None: ...


@runtime_checkable
class ChatProvider(Provider, Protocol):
    async def chat(
        self, request: ChatCompletionRequest, upstream_model: str, call: Call
    ) -> Completion | ChunkStream: ...


@runtime_checkable
class EmbeddingsProvider(Provider, Protocol):
    async def embed(self, request: EmbeddingRequest, upstream_model: str, call: Call) -> EmbeddingResult: ...


@runtime_checkable
class SpeechProvider(Provider, Protocol):
    async def speak(self, request: SpeechRequest, upstream_model: str, call: Call) -> ChunkStream:
        """Audio in ``request.response_format``, chunk by chunk as it is synthesised; ``usage`` counts the input
        characters spoken so far."""


@runtime_checkable
class TranscriptionProvider(Provider, Protocol):
    async def transcribe(
        self, request: TranscriptionRequest, audio: AudioUpload, upstream_model: str, call: Call
    ) -> Completion | ChunkStream:
        """The transcript in ``request.response_format``, or with ``stream`` the ``transcript.text.*`` events."""


@runtime_checkable
class RerankProvider(Provider, Protocol):
    async def rerank(self, request: RerankRequest, upstream_model: str, call: Call) -> Completion: ...

    async def score(self, request: ScoreRequest, upstream_model: str, call: Call) -> Completion: ...


@runtime_checkable
class ImagesProvider(Provider, Protocol):
    async def generate(self, request: ImageRequest, upstream_model: str, call: Call) -> GeneratedImages: ...


#: the protocol an adapter implements for each capability it declares
PROTOCOLS: dict[Capability, type] = {
    Capability.CHAT: ChatProvider,
    Capability.EMBEDDINGS: EmbeddingsProvider,
    Capability.SPEECH: SpeechProvider,
    Capability.TRANSCRIPTION: TranscriptionProvider,
    Capability.RERANK: RerankProvider,
    Capability.IMAGES: ImagesProvider,
}


def check_capabilities(provider: Provider) -> None:
    """A provider implements the protocol of every capability it declares (checked once, when it is routed to:
    the router then trusts the declaration on every request)."""
    for capability in provider.capabilities:
        protocol = PROTOCOLS.get(capability)
        if protocol is None or not isinstance(provider, protocol):
            raise TypeError(f"provider {provider.name!r} declares {capability} but does not implement it")
