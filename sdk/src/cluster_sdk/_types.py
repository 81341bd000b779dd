"""Response models. They accept unknown fields, so a newer server never breaks an older client."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


class Usage(_Open):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class ChatMessage(_Open):
    role: str
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class Choice(_Open):
    index: int
    message: ChatMessage
    finish_reason: str | None = None


class ChatCompletion(_Open):
    id: str
    object: str = "chat.completion"
    created: int = 0
    model: str
    choices: list[Choice]
    usage: Usage | None = None


class Delta(_Open):
    role: str | None = None
    content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChunkChoice(_Open):
    index: int
    delta: Delta
    finish_reason: str | None = None


class ChatCompletionChunk(_Open):
    id: str
    object: str = "chat.completion.chunk"
    created: int = 0
    model: str
    choices: list[ChunkChoice]
    usage: Usage | None = None


class Embedding(_Open):
    index: int
    embedding: list[float] | str
    object: str = "embedding"


class CreateEmbeddingResponse(_Open):
    data: list[Embedding]
    model: str
    usage: Usage
    object: str = "list"


class Model(_Open):
    id: str
    object: str = "model"
    owned_by: str = ""
    task: str | None = None
    context_length: int | None = None
    providers: list[str] = []
    tee: bool = False


class Transcription(_Open):
    """``json`` and ``verbose_json`` answers (``segments``, ``words``, ``language``, ``duration`` when verbose)."""

    text: str


class Image(_Open):
    url: str | None = None
    b64_json: str | None = None
    revised_prompt: str | None = None


class ImagesResponse(_Open):
    created: int
    data: list[Image]


class RerankResult(_Open):
    index: int
    relevance_score: float
    document: dict[str, Any] | None = None


class RerankResponse(_Open):
    id: str
    model: str
    results: list[RerankResult]


class ScoreData(_Open):
    index: int
    score: float


class ScoreResponse(_Open):
    id: str
    model: str
    data: list[ScoreData]


class ApiKey(_Open):
    id: str
    name: str
    display: str
    user_id: str
    scopes: list[str]
    models: list[str] | None = None
    expires_at: str | None = None
    revoked_at: str | None = None
    last_used_at: str | None = None
    key: str | None = None  # only in the response that created it


class Balance(_Open):
    user_id: str
    available: int
    held: int
    currency: str = "USDC"
    decimals: int = 6


class UsageReport(_Open):
    user_id: str
    start: str
    end: str
    group_by: list[str]
    data: list[dict[str, Any]]
    total: dict[str, Any]


class ChainInfo(_Open):
    chain_id: int
    network: str
    embedded: bool
    head_block: int
    indexed_block: int
    confirmations: int
    signer: str | None = None
    contracts: dict[str, Any]


class ChainPurchase(_Open):
    dataset_id: int
    buyer: str
    referrer: str
    beneficiary: str
    price: int
    creator_amount: int
    treasury_amount: int
    referrer_amount: int
    tx_hash: str
    block_number: int


class ChainDataset(_Open):
    dataset_id: int
    slug: str
    creator: str
    holder: str
    price: int
    token_uri: str
    purchases: int
    recent_purchases: list[ChainPurchase] = []


class Deposit(_Open):
    tx_hash: str
    log_index: int
    block_number: int
    sender: str
    token: str
    amount: str
    credited: int | None = None
    status: str


class DepositList(_Open):
    reference: str
    contract: str
    usdc: str
    chain_id: int
    data: list[Deposit]


class Dataset(_Open):
    id: str
    slug: str
    name: str
    category: str
    format: str
    price: int
    size: int
    sha256: str
    stats: dict[str, Any]
    content_cid: str
    metadata_cid: str
    token_uri: str
    token_id: int | None = None
    access: str


class FileObject(_Open):
    id: str
    object: str = "file"
    bytes: int
    created_at: int
    filename: str
    purpose: str
    lines: int | None = None


class FineTuningJob(_Open):
    """OpenAI's job object, plus ``dataset`` (a marketplace slug) and ``lineage`` once the model exists."""

    id: str
    object: str = "fine_tuning.job"
    created_at: int
    model: str
    status: str
    fine_tuned_model: str | None = None
    finished_at: int | None = None
    hyperparameters: dict[str, Any] = {}
    trained_tokens: int | None = None
    training_file: str | None = None
    validation_file: str | None = None
    error: dict[str, Any] | None = None
    seed: int | None = None
    dataset: str | None = None
    lineage: dict[str, Any] | None = None
    public: bool = False

    @property
    def done(self) -> bool:
        return self.status in ("succeeded", "failed", "cancelled")


class FineTuningEvent(_Open):
    id: str
    created_at: int
    level: str
    message: str
    type: str = "message"
    data: dict[str, Any] | None = None


class FineTuningCheckpoint(_Open):
    id: str
    created_at: int
    fine_tuned_model_checkpoint: str
    fine_tuning_job_id: str
    metrics: dict[str, Any]
    step_number: int
