from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime


@dataclass(slots=True)
class RequestRecord:
    """Metadata of one served (or refused) request. There is deliberately no field that could hold prompt
    or completion text."""

    id: str
    endpoint: str
    model: str
    status: int
    provider: str | None = None
    key_id: str | None = None
    user_id: str | None = None
    cost: int = 0
    error_code: str | None = None
    stream: bool = False
    prompt_tokens: int = 0
    completion_tokens: int = 0
    usage_estimated: bool = False
    attempts: int = 0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def row(self) -> dict[str, object]:
        return asdict(self)
