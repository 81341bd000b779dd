"""Chat examples → token ids and labels: the loss counts only what the assistant says.

Each assistant message's tokens are found by rendering the conversation twice with the model's own chat
template (the one llama.cpp serves with): up to the generation prompt before the message, and through the
message itself. The difference is the assistant's text and its end-of-turn token, which is what the
fine-tuned model must learn to produce.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

IGNORE = -100


@dataclass(frozen=True, slots=True)
class Example:
    input_ids: list[int]
    labels: list[int]

    @property
    def trained_tokens(self) -> int:
        return sum(1 for label in self.labels if label != IGNORE)


def read_conversations(path: Path) -> list[list[dict[str, Any]]]:
    """The ``messages`` of each line (the file was validated when it was uploaded)."""
    with path.open(encoding="utf-8") as lines:
        return [json.loads(line)["messages"] for line in lines if line.strip()]


def encode(tokenizer: Any, messages: list[dict[str, Any]], max_length: int) -> Example:
    ids: list[int] = []
    labels: list[int] = []
    for index, message in enumerate(messages):
        if message["role"] != "assistant" or message.get("weight", 1) == 0:
            continue
        before = _render(tokenizer, messages[:index], generation_prompt=True)
        through = _render(tokenizer, messages[: index + 1], generation_prompt=False)
        if through[: len(before)] != before:  # a template that rewrites earlier turns: train on the whole text
            before = through[: len(ids)]
        labels.extend([IGNORE] * (len(before) - len(ids)))
        labels.extend(through[len(before) :])
        ids = through
    return Example(ids[:max_length], labels[:max_length])


def _render(tokenizer: Any, messages: list[dict[str, Any]], *, generation_prompt: bool) -> list[int]:
    plain = [{"role": m["role"], "content": m.get("content") or ""} for m in messages]
    ids = tokenizer.apply_chat_template(plain, add_generation_prompt=generation_prompt, tokenize=True)
    if isinstance(ids, dict) or hasattr(ids, "keys"):
        ids = ids["input_ids"]
    return list(ids)


def batches(count: int, batch_size: int, epoch: int, seed: int) -> Iterator[list[int]]:
    """The example indices of each step of ``epoch``: a shuffle fixed by (seed, epoch), so a resumed job
    sees exactly the batches it would have seen."""
    order = list(range(count))
    random.Random(seed * 1_000_003 + epoch).shuffle(order)
    for start in range(0, count, batch_size):
        yield order[start : start + batch_size]
