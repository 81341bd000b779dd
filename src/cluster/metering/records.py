from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from cluster.metering.units import QUANTITIES, Usage
from cluster.wire.bounds import INT32  # request_log's count columns


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
    usage: Usage = field(default_factory=Usage)
    attempts: int = 0
    latency_ms: float = 0.0
    ttft_ms: float | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def row(self) -> dict[str, object]:
        """The request-log row: each usage quantity in its own column, every value cut to its column (a count an
        upstream reported, a code a remote facilitator chose), so the database never refuses a row."""
        return {
            "id": self.id[:40],
            "endpoint": self.endpoint[:64],
            "model": self.model[:200],
            "status": self.status,
            "provider": _cut(self.provider, 100),
            "key_id": _cut(self.key_id, 64),
            "user_id": _cut(self.user_id, 64),
            "cost": max(0, self.cost),
            "error_code": _cut(self.error_code, 64),
            "stream": self.stream,
            **{name: min(max(count, 0), INT32) for name, count in self.usage.counts().items()},
            "usage_estimated": self.usage.estimated,
            "attempts": self.attempts,
            "latency_ms": self.latency_ms,
            "ttft_ms": self.ttft_ms,
            "created_at": self.created_at,
        }

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> RequestRecord:
        """The record back from its row (a spooled one)."""
        fields = dict(row)
        counts = {name: int(fields.pop(name, 0)) for name in QUANTITIES}
        usage = Usage(**counts, estimated=bool(fields.pop("usage_estimated", False)))
        created = fields.pop("created_at")
        at = datetime.fromisoformat(created) if isinstance(created, str) else created
        return cls(**fields, usage=usage, created_at=at)


def _cut(value: str | None, length: int) -> str | None:
    return None if value is None else value[:length]
