"""Rerank and score wire models. OpenAI has no rerank endpoint; the field's shape is Cohere's / Jina's / vLLM's
(``/v1/rerank``, ``/v2/rerank``, ``/rerank``) and vLLM's ``/v1/score``, which these follow."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

MAX_DOCUMENTS = 1000
MAX_TEXT = 32_768  # characters of one query or document
DOCUMENTS_PER_SEARCH = 100  # Cohere's search unit: one query over up to 100 documents


class TextDocument(BaseModel):
    model_config = ConfigDict(extra="allow")  # Cohere's v1 documents may carry other fields

    text: str = Field(max_length=MAX_TEXT)


class RerankRequest(BaseModel):
    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    query: str = Field(min_length=1, max_length=MAX_TEXT)
    documents: list[str | TextDocument] = Field(min_length=1, max_length=MAX_DOCUMENTS)
    top_n: int | None = Field(None, ge=0, le=MAX_DOCUMENTS, description="0 or absent: every document")
    top_k: int | None = Field(None, ge=0, le=MAX_DOCUMENTS, description="Infinity's / older clients' top_n")
    return_documents: bool = True
    max_tokens_per_doc: int | None = Field(None, ge=1, le=32_768)

    @model_validator(mode="after")
    def _documents_have_text(self) -> RerankRequest:
        if any(len(text) > MAX_TEXT for text in self.texts):
            raise ValueError(f"a document is longer than {MAX_TEXT} characters")
        return self

    @property
    def texts(self) -> list[str]:
        return [d if isinstance(d, str) else d.text for d in self.documents]

    @property
    def limit(self) -> int:
        """How many results to return."""
        wanted = self.top_n if self.top_n is not None else self.top_k
        return len(self.documents) if not wanted else min(wanted, len(self.documents))

    @property
    def searches(self) -> int:
        """Billed search units: one per started hundred documents."""
        return -(-len(self.documents) // DOCUMENTS_PER_SEARCH)


class RerankDocument(BaseModel):
    text: str


class RerankResult(BaseModel):
    index: int
    relevance_score: float
    document: RerankDocument | None = None


class RerankUsage(BaseModel):
    prompt_tokens: int
    total_tokens: int


class BilledUnits(BaseModel):
    search_units: int


class RerankMeta(BaseModel):
    api_version: dict[str, Any] = Field(default_factory=lambda: {"version": "2"})
    billed_units: BilledUnits


class RerankResponse(BaseModel):
    id: str
    object: Literal["rerank"] = "rerank"
    model: str
    results: list[RerankResult]
    usage: RerankUsage
    meta: RerankMeta


Texts = Annotated[list[str], Field(max_length=MAX_DOCUMENTS)]


class ScoreRequest(BaseModel):
    """vLLM's ``/score``: ``text_1`` against each ``text_2`` (1 to N), or pairwise (N to N)."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1)
    text_1: str | Texts
    text_2: str | Texts

    @model_validator(mode="after")
    def _pairs(self) -> ScoreRequest:
        left, right = self.pairs_sides
        if not left or not right:
            raise ValueError("text_1 and text_2 must not be empty")
        if len(left) > 1 and len(left) != len(right):
            raise ValueError("text_1 must be one text, or as many texts as text_2")
        if any(len(t) > MAX_TEXT for t in (*left, *right)):
            raise ValueError(f"a text is longer than {MAX_TEXT} characters")
        return self

    @property
    def pairs_sides(self) -> tuple[list[str], list[str]]:
        left = [self.text_1] if isinstance(self.text_1, str) else self.text_1
        right = [self.text_2] if isinstance(self.text_2, str) else self.text_2
        return left, right

    @property
    def pairs(self) -> list[tuple[str, str]]:
        left, right = self.pairs_sides
        if len(left) == 1:
            return [(left[0], text) for text in right]
        return list(zip(left, right, strict=True))


class ScoreData(BaseModel):
    index: int
    object: Literal["score"] = "score"
    score: float


class ScoreResponse(BaseModel):
    id: str
    object: Literal["list"] = "list"
    created: int
    model: str
    data: list[ScoreData]
    usage: RerankUsage
