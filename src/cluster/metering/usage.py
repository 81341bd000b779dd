"""Usage analytics read from the daily rollups (``usage_daily``), never from raw request rows."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.errors import InvalidRequest
from cluster.metering.models import UsageDaily

_GROUPS = {"model": UsageDaily.model, "day": UsageDaily.day, "key": UsageDaily.key_id}
_MAX_DAYS = 366


class UsageBucket(BaseModel):
    model: str | None = None
    day: date | None = None
    key_id: str | None = None
    requests: int
    errors: int
    prompt_tokens: int
    completion_tokens: int
    cost: int = Field(description="micro-USDC charged")


class UsageReport(BaseModel):
    object: Literal["usage"] = "usage"
    user_id: str
    start: date
    end: date
    group_by: list[str]
    currency: Literal["USDC"] = "USDC"
    data: list[UsageBucket]
    total: UsageBucket


class UsageService:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def report(self, user_id: str, start: date, end: date, group_by: str, key_id: str | None) -> UsageReport:
        groups = [g.strip() for g in group_by.split(",") if g.strip()]
        unknown = [g for g in groups if g not in _GROUPS]
        if unknown:
            raise InvalidRequest(f"cannot group by {unknown}: use model, day, key", param="group_by")
        if end < start or (end - start).days > _MAX_DAYS:
            raise InvalidRequest(f"end must be on or after start, at most {_MAX_DAYS} days later", param="end")
        sums = [
            func.sum(UsageDaily.requests),
            func.sum(UsageDaily.errors),
            func.sum(UsageDaily.prompt_tokens),
            func.sum(UsageDaily.completion_tokens),
            func.sum(UsageDaily.cost),
        ]
        columns = [_GROUPS[g] for g in groups]
        query = select(*columns, *sums).where(
            UsageDaily.user_id == user_id, UsageDaily.day >= start, UsageDaily.day <= end
        )
        if key_id is not None:
            query = query.where(UsageDaily.key_id == key_id)
        if columns:
            query = query.group_by(*columns).order_by(*columns)
        async with self._engine.connect() as connection:
            rows = (await connection.execute(query)).all()
        data = [_bucket(groups, row) for row in rows if row[len(groups)] is not None]
        total = UsageBucket(
            requests=sum(b.requests for b in data),
            errors=sum(b.errors for b in data),
            prompt_tokens=sum(b.prompt_tokens for b in data),
            completion_tokens=sum(b.completion_tokens for b in data),
            cost=sum(b.cost for b in data),
        )
        return UsageReport(user_id=user_id, start=start, end=end, group_by=groups, data=data, total=total)


def _bucket(groups: list[str], row: tuple[object, ...]) -> UsageBucket:
    names = {"model": "model", "day": "day", "key": "key_id"}
    labels = {names[g]: row[i] for i, g in enumerate(groups)}
    requests, errors, prompt, completion, cost = (int(v or 0) for v in row[len(groups) :])  # type: ignore[call-overload]
    return UsageBucket(
        **labels,
        requests=requests,
        errors=errors,
        prompt_tokens=prompt,
        completion_tokens=completion,
        cost=cost,
    )
