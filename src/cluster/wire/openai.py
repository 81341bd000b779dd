"""OpenAI wire models for the inference endpoints (requests validated here, responses documented here).

Requests allow extra fields so engine-specific parameters (vLLM's ``top_k``, ``min_p``…) pass through to
upstreams untouched.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from cluster.wire.bounds import INT32, Int64, MicroUSDC, Tokens

TokenId = Annotated[int, Field(ge=0, le=INT32)]
Role = Literal["system", "developer", "user", "assistant", "tool", "function"]


class _Passthrough(BaseModel):
    model_config = ConfigDict(extra="allow")


class ChatMessage(_Passthrough):
    role: Role
    content: str | list[dict[str, Any]] | None = None
    name: str | None = None
    tool_calls: list[dict[str, Any]] | None = None
    tool_call_id: str | None = None


class FunctionDefinition(_Passthrough):
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class Tool(_Passthrough):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class ResponseFormat(_Passthrough):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _schema_given(self) -> ResponseFormat:
        if self.type == "json_schema" and not self.json_schema:
            raise ValueError("response_format.json_schema is required when type is 'json_schema'")
        return self


class StreamOptions(_Passthrough):
    include_usage: bool = False


class ChatCompletionRequest(_Passthrough):
    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["none", "auto", "required"] | dict[str, Any] | None = None
    parallel_tool_calls: bool | None = None
    response_format: ResponseFormat | None = None
    n: int = Field(1, ge=1, le=16)
    stop: str | list[str] | None = None
    max_tokens: Tokens | None = None
    max_completion_tokens: Tokens | None = None
    seed: Int64 | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, ge=0, le=1)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    logit_bias: dict[str, Annotated[float, Field(ge=-100, le=100)]] | None = None
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    user: str | None = None

    @property
    def output_limit(self) -> int | None:
        """The caller's cap on generated tokens, whichever of the two spellings it used."""
        return self.max_completion_tokens or self.max_tokens

    @property
    def wants_usage_chunk(self) -> bool:
        return bool(self.stream_options and self.stream_options.include_usage)

    @model_validator(mode="after")
    def _stream_options_need_stream(self) -> ChatCompletionRequest:
        if self.stream_options is not None and not self.stream:
            raise ValueError("stream_options is only allowed when stream is true")
        if isinstance(self.stop, list) and len(self.stop) > 4:
            raise ValueError("stop accepts at most 4 sequences")
        return self


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int = 0
    total_tokens: int


class ChatChoice(_Passthrough):
    index: int
    message: dict[str, Any]
    finish_reason: str | None
    logprobs: dict[str, Any] | None = None


class ChatCompletion(_Passthrough):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[ChatChoice]
    usage: Usage | None = None


class EmbeddingRequest(_Passthrough):
    model: str = Field(min_length=1)
    input: str | list[str] | list[TokenId] | list[list[TokenId]]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1, le=65_536)
    user: str | None = None

    @model_validator(mode="after")
    def _non_empty(self) -> EmbeddingRequest:
        if isinstance(self.input, list) and not self.input:
            raise ValueError("input must not be empty")
        if isinstance(self.input, list) and len(self.input) > 2048:
            raise ValueError("input accepts at most 2048 items")
        return self

    @property
    def texts(self) -> list[str] | None:
        """The inputs as strings, or None when the caller sent token ids."""
        if isinstance(self.input, str):
            return [self.input]
        if all(isinstance(item, str) for item in self.input):
            return list(self.input)  # type: ignore[arg-type]
        return None


class Embedding(BaseModel):
    object: Literal["embedding"] = "embedding"
    index: int
    embedding: list[float] | str


class EmbeddingResponse(BaseModel):
    object: Literal["list"] = "list"
    data: list[Embedding]
    model: str
    usage: Usage


class Pricing(BaseModel):
    """A model's prices. Like every amount of money on Cluster's HTTP API (balances, dataset prices, earnings,
    credits), each is an integer of micro-USDC: USDC base units, 1 USDC = 1,000,000. Exact, and what the ledger
    and the chain count in; the SDK and the CLI take and show decimal USDC."""

    currency: Literal["USDC"] = "USDC"
    decimals: Literal[6] = Field(6, description="amounts are in 10^-6 USDC (micro-USDC)")
    input: MicroUSDC = Field(description="micro-USDC per 1M input tokens")
    output: MicroUSDC = Field(description="micro-USDC per 1M output tokens")
    character: MicroUSDC = Field(0, description="micro-USDC per 1M input characters (text to speech)")
    second: MicroUSDC = Field(0, description="micro-USDC per second of audio (transcription)")
    image: MicroUSDC = Field(0, description="micro-USDC per image generated")
    search: MicroUSDC = Field(0, description="micro-USDC per search (rerank: one query over its documents)")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str
    task: str
    context_length: int | None
    pricing: Pricing
    providers: list[str]
    aliases: list[str]
    tee: bool
    dimensions: int | None = None
    voices: list[str] | None = Field(None, description="tts: the voice names it takes")
    sizes: list[str] | None = Field(None, description="image: the sizes it makes")
    description: str | None = None
    lineage: dict[str, Any] | None = Field(None, description="base model, source dataset and royalty share")


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


class ErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
