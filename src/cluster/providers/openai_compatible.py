"""Any upstream that speaks OpenAI's HTTP API, for every capability: chat and embeddings here, the other
modalities in ``openai_media``, the HTTP plumbing in ``openai_http``."""

from __future__ import annotations

from cluster.providers.base import Call, Capability, Completion, EmbeddingResult
from cluster.providers.openai_http import UpstreamStream, _encoded, _usage_of
from cluster.providers.openai_media import OpenAIMedia
from cluster.wire.openai import ChatCompletionRequest, EmbeddingRequest


class OpenAICompatibleProvider(OpenAIMedia):
    """Every capability from any OpenAI-compatible upstream (the catalog decides which models go to it; an endpoint
    the upstream lacks answers its own 404)."""

    capabilities = frozenset(Capability)

    async def chat(
        self, request: ChatCompletionRequest, upstream_model: str, call: Call
    ) -> Completion | UpstreamStream:
        sent = self._chat_body(request, upstream_model)
        if not request.stream:
            return self._completion(request, await self._post("chat/completions", sent))
        return UpstreamStream(self.name, await self._open_stream(sent), request)

    async def embed(self, request: EmbeddingRequest, upstream_model: str, call: Call) -> EmbeddingResult:
        payload = request.model_dump(exclude_unset=True)
        payload["model"] = upstream_model
        body = await self._post("embeddings", _encoded(payload))
        return EmbeddingResult(body, _usage_of(body))
