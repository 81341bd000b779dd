"""Chat with a GGUF model through llama.cpp (``llama-cpp-python``), in a thread of its own.

A fine-tuned model is the same base GGUF with a LoRA adapter applied at load (``lora_path``).

The model's own chat template (from the GGUF) formats prompts; ``tools`` with a named ``tool_choice`` and
``response_format`` are enforced by llama.cpp grammars. Parameters the caller left unset keep llama.cpp's
defaults. ``n > 1`` runs the choices one after the other.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from cluster.errors import InvalidRequest, UnsupportedParameter
from cluster.metering import Usage
from cluster.providers.base import Call, Capability, Completion
from cluster.providers.local.worker import ModelThread, ThreadStream
from cluster.wire.openai import ChatCompletionRequest
from cluster.wire.sse import DONE, event

_PASSED = (
    "tools",
    "tool_choice",
    "response_format",
    "stop",
    "seed",
    "temperature",
    "top_p",
    "presence_penalty",
    "frequency_penalty",
    "logit_bias",
    "logprobs",
    "top_logprobs",
)


class LlamaCppProvider:
    capabilities = frozenset({Capability.CHAT})
    tee = False

    def __init__(
        self,
        name: str,
        model_path: Path,
        *,
        context: int,
        threads: int | None,
        lora_path: Path | None = None,
        reproducible: bool = True,
    ) -> None:
        """``reproducible``: greedy and seeded requests start from an empty context (``local.reproducible``)."""
        self.name = name
        self._reproducible = reproducible
        self._path = model_path
        self._lora = lora_path
        self._context = context
        self._threads = threads
        self._thread = ModelThread(name)
        self._llama: Any = None

    async def chat(self, request: ChatCompletionRequest, upstream_model: str, call: Call) -> Completion | ThreadStream:
        kwargs = self._kwargs(request)
        if request.stream:
            return self._thread.stream(lambda s: self._produce(s, kwargs, request, upstream_model))
        fresh = self._fresh(request)
        return await self._thread.run(lambda: self._complete(kwargs, request.n, upstream_model, fresh))

    async def aclose(self) -> None:
        self._thread.shutdown()

    def _fresh(self, request: ChatCompletionRequest) -> bool:
        """Greedy (``temperature: 0``) or seeded requests give the same text every time, so they start from an empty
        context: llama.cpp would otherwise reuse the previous request's cached prefix, and a prompt evaluated in
        other batch splits gives slightly different logits (another word, now and then). The cost is the prompt's
        evaluation, which a cache hit would have skipped (bench/local_models.py measures it)."""
        return self._reproducible and (request.temperature == 0 or request.seed is not None)

    def _kwargs(self, request: ChatCompletionRequest) -> dict[str, Any]:
        if request.logprobs or request.top_logprobs:
            # llama.cpp computes them only for a model loaded with logits for every token (logits_all): slower
            # for every request, so this model does not offer them.
            raise UnsupportedParameter("this local model does not return logprobs", param="logprobs")
        kwargs = request.model_dump(include=set(_PASSED), exclude_none=True)
        kwargs["messages"] = [_message(m.model_dump(exclude_none=True), i) for i, m in enumerate(request.messages)]
        kwargs["max_tokens"] = min(request.output_limit or self._context, self._context)
        if isinstance(kwargs.get("stop"), str):
            kwargs["stop"] = [kwargs["stop"]]
        response_format = kwargs.get("response_format")
        if response_format and response_format["type"] == "json_schema":
            # llama-cpp-python spells OpenAI's json_schema format as json_object with a schema.
            schema = response_format["json_schema"].get("schema") or {"type": "object"}
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        return kwargs

    def _model(self) -> Any:
        if self._llama is None:
            from llama_cpp import Llama

            self._llama = Llama(
                model_path=str(self._path),
                lora_path=str(self._lora) if self._lora else None,
                n_ctx=self._context,
                n_threads=self._threads,
                verbose=False,
            )
        return self._llama

    def _complete(self, kwargs: dict[str, Any], n: int, model: str, fresh: bool) -> Completion:
        llama = self._model()
        choices: list[dict[str, Any]] = []
        usage = Usage()
        result: dict[str, Any] = {}
        for index in range(n):
            if fresh:
                llama.reset()
            with _context_checked():
                result = llama.create_chat_completion(**kwargs)
            choice = result["choices"][0]
            choice["index"] = index
            choices.append(choice)
            usage.prompt_tokens = result["usage"]["prompt_tokens"]
            usage.completion_tokens += result["usage"]["completion_tokens"]
        body = {
            "id": f"chatcmpl-{uuid.uuid4().hex}",
            "object": "chat.completion",
            "created": result.get("created", int(time.time())),
            "model": model,
            "choices": choices,
            "usage": _usage_json(usage),
        }
        return Completion(orjson.dumps(body), usage)

    def _produce(
        self, stream: ThreadStream, kwargs: dict[str, Any], request: ChatCompletionRequest, model: str
    ) -> None:
        llama = self._model()
        completion_id = f"chatcmpl-{uuid.uuid4().hex}"
        usage = stream.usage = Usage()
        created = int(time.time())
        for index in range(request.n):
            if stream.stopped:
                break
            done = usage.completion_tokens
            prompt: int | None = None
            generated = 0
            if self._fresh(request):
                llama.reset()
            for chunk in _checked(llama.create_chat_completion(stream=True, **kwargs)):
                if prompt is None:
                    # When the first chunk arrives the context holds exactly the evaluated prompt.
                    prompt = usage.prompt_tokens = llama.n_tokens
                delta = chunk["choices"][0].get("delta") or {}
                if delta.get("content") or delta.get("tool_calls"):
                    generated += 1
                    usage.completion_tokens = done + max(generated, llama.n_tokens - prompt)
                chunk.update(id=completion_id, model=model, created=created)
                chunk["choices"][0]["index"] = index
                stream.put(event(chunk))
                if stream.stopped:
                    break
        if request.wants_usage_chunk:
            usage_chunk = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": [],
                "usage": _usage_json(usage),
            }
            stream.put(event(usage_chunk))
        stream.put(DONE)


def _message(message: dict[str, Any], index: int) -> dict[str, Any]:
    """A message as the GGUF's chat template can render it: text parts joined (the model reads text only; an image
    or audio part is refused, naming it), and ``content`` always present (an assistant turn that only called
    tools has none, and templates read it)."""
    content = message.get("content")
    if isinstance(content, list):
        texts = []
        for position, part in enumerate(content):
            if part.get("type") != "text":
                raise UnsupportedParameter(
                    f"this model reads text only: a {part.get('type')!r} part cannot be sent to it",
                    param=f"messages[{index}].content[{position}]",
                )
            texts.append(str(part.get("text", "")))
        content = "\n".join(texts)
    return {**message, "content": content or ""}


_TOO_LONG = re.compile(r"Requested tokens \((\d+)\) exceed context window of (\d+)")


@contextmanager
def _context_checked() -> Iterator[None]:
    """llama.cpp's refusal of a prompt longer than its context (raised before any evaluation) as a 400."""
    try:
        yield
    except ValueError as error:
        found = _TOO_LONG.search(str(error))
        if found is None:
            raise
        tokens, context = found.groups()
        raise InvalidRequest(
            f"This model's maximum context length is {context} tokens; the messages take {tokens} tokens",
            param="messages",
            code="context_length_exceeded",
        ) from None


def _checked(chunks: Iterator[Any]) -> Iterator[Any]:
    with _context_checked():
        yield from chunks


def _usage_json(usage: Usage) -> dict[str, int]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.prompt_tokens + usage.completion_tokens,
    }
