"""Prices are integer micro-USDC: per 1M tokens or characters, per second of audio, per image, per search. A
request's cost is rounded up to the next micro-USDC. Worst-case bounds (what a hold must cover before a request
runs) are usages too, so one ``cost`` prices both."""

from __future__ import annotations

import orjson

from cluster.metering.units import Usage
from cluster.settings import ModelConfig
from cluster.wire.openai import ChatCompletionRequest, EmbeddingRequest

PER = 1_000_000


def cost(model: ModelConfig, usage: Usage) -> int:
    per_million = (
        usage.prompt_tokens * model.input_price
        + usage.completion_tokens * model.output_price
        + usage.characters * model.character_price
    )
    per_unit = usage.seconds * model.second_price + usage.images * model.image_price
    return -(-per_million // PER) + per_unit + usage.searches * model.search_price


#: what one image or audio content part may cost in prompt tokens (high-detail images tile up to ~1,500)
MEDIA_PART_BOUND = 2_000


def chat_bound(request: ChatCompletionRequest, max_output: int) -> Usage:
    """The most a chat request can use: an upper bound on the prompt's tokens without a tokenizer (its JSON
    bytes: a token is at least one byte, and the JSON's keys and quotes more than cover the few template tokens
    added per message, plus a fixed bound per image or audio part, whose tokens have nothing to do with their
    URL's length) and ``max_output`` generated tokens."""
    parts = [m.model_dump(exclude_none=True) for m in request.messages]
    tools = [t.model_dump(exclude_none=True) for t in request.tools or []]
    media = sum(
        1
        for m in request.messages
        if isinstance(m.content, list)
        for part in m.content
        if part.get("type") not in (None, "text")
    )
    return Usage(len(orjson.dumps([parts, tools])) + media * MEDIA_PART_BOUND, max_output)


def embedding_bound(request: EmbeddingRequest) -> Usage:
    texts = request.texts
    if texts is not None:
        return Usage(sum(len(t.encode()) + 2 for t in texts))
    items = request.input
    return Usage(sum(len(i) if isinstance(i, list) else 1 for i in items) + 2 * len(items))
