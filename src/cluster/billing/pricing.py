"""Prices are integer micro-USDC per 1M tokens; a request's cost is rounded up to the next micro-USDC."""

from __future__ import annotations

import orjson

from cluster.gateway.protocol import ChatCompletionRequest, EmbeddingRequest
from cluster.settings import ModelConfig

PER = 1_000_000


def cost(model: ModelConfig, prompt_tokens: int, completion_tokens: int) -> int:
    numerator = prompt_tokens * model.input_price + completion_tokens * model.output_price
    return -(-numerator // PER)


#: what one image or audio content part may cost in prompt tokens (high-detail images tile up to ~1,500)
MEDIA_PART_BOUND = 2_000


def chat_prompt_bound(request: ChatCompletionRequest) -> int:
    """An upper bound on the prompt's tokens without a tokenizer: its JSON bytes (a token is at least one
    byte, and the JSON's keys and quotes more than cover the few template tokens added per message), plus a
    fixed bound per image or audio part, whose tokens have nothing to do with their URL's length."""
    parts = [m.model_dump(exclude_none=True) for m in request.messages]
    tools = [t.model_dump(exclude_none=True) for t in request.tools or []]
    media = sum(
        1
        for m in request.messages
        if isinstance(m.content, list)
        for part in m.content
        if part.get("type") not in (None, "text")
    )
    return len(orjson.dumps([parts, tools])) + media * MEDIA_PART_BOUND


def embedding_input_bound(request: EmbeddingRequest) -> int:
    texts = request.texts
    if texts is not None:
        return sum(len(t.encode()) + 2 for t in texts)
    items = request.input
    return sum(len(i) if isinstance(i, list) else 1 for i in items) + 2 * len(items)
