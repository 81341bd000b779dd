"""Newest-first pages with an ``after`` cursor (the OpenAI list shape): keyset on (created_at, id), so rows
created in the same instant are neither repeated nor skipped across pages."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Select, and_, or_, select
from sqlalchemy.orm import InstrumentedAttribute


def newest_first(
    query: Select[Any], created_at: InstrumentedAttribute[Any], id_: InstrumentedAttribute[Any], after: str | None
) -> Select[Any]:
    """``query`` ordered newest first, starting just past the row ``after`` (an id; unknown: from the start)."""
    if after is not None:
        query = query.where(_older_than(created_at, id_, after))
    return query.order_by(created_at.desc(), id_.desc())


def _older_than(
    created_at: InstrumentedAttribute[Any], id_: InstrumentedAttribute[Any], after: str
) -> ColumnElement[bool]:
    when = select(created_at).where(id_ == after).scalar_subquery()
    return or_(created_at < when, and_(created_at == when, id_ < after))
