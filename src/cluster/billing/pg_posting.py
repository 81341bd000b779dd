"""A whole posting as one PostgreSQL statement: one round trip, committed on its own (autocommit).

Data-modifying CTEs run together on one snapshot: the hold flip (if the posting closes a hold) gates the
funded debit, which gates everything else, so a posting either applies whole or writes nothing — an
overdraft or an already-settled hold simply yields zero rows, never an error.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from cluster.billing.posting import Posting, refusal

_HOLD_COLUMNS = ("id", "user_id", "amount", "status", "owner", "created_at", "expires_at")
_TYPES = {"amount": "BIGINT", "created_at": "TIMESTAMPTZ", "expires_at": "TIMESTAMPTZ"}


def _values(prefix: str, rows: list[tuple[str, int]], params: dict[str, Any]) -> str:
    parts = []
    for i, (account, amount) in enumerate(rows):
        params[f"{prefix}{i}a"], params[f"{prefix}{i}d"] = account, amount
        parts.append(f"(CAST(:{prefix}{i}a AS VARCHAR), CAST(:{prefix}{i}d AS BIGINT))")
    return ", ".join(parts)


def statement(posting: Posting) -> tuple[str, dict[str, Any]]:
    params: dict[str, Any] = {
        "tx": f"tx_{uuid.uuid4().hex}",
        "key": posting.key,
        "kind": posting.kind,
        "user": posting.user_id,
        "amount": sum(d for _, d in posting.legs if d > 0),
        "memo": posting.memo,
        "now": datetime.now(UTC),
    }
    ctes: list[str] = []
    gate: str | None = None
    if posting.closes_hold is not None:
        params["hold"], params["status"] = posting.closes_hold
        ctes.append("flip AS (UPDATE holds SET status = :status WHERE id = :hold AND status = 'open' RETURNING 1)")
        gate = "flip"
    funded = next(((a, d) for a, d in posting.legs if a in posting.funded and d < 0), None)
    if funded is not None:
        params["f_account"], params["f_delta"] = funded
        after = f" AND EXISTS (SELECT 1 FROM {gate})" if gate else ""
        ctes.append(
            "debit AS (UPDATE ledger_accounts SET balance = balance + CAST(:f_delta AS BIGINT) WHERE id = :f_account"
            f" AND balance + CAST(:f_delta AS BIGINT) >= 0{after} RETURNING 1)"
        )
        gate = "debit"
    applies = f"EXISTS (SELECT 1 FROM {gate})" if gate else "TRUE"
    moves = [(a, d) for a, d in posting.legs if not a.startswith("system:") and (a, d) != funded]
    if moves:
        ctes.append(
            f"moved AS (UPDATE ledger_accounts AS a SET balance = a.balance + v.delta FROM (VALUES "
            f"{_values('m', moves, params)}) AS v(id, delta) WHERE a.id = v.id AND {applies} RETURNING 1)"
        )
    ctes.append(
        "tx AS (INSERT INTO ledger_transactions (id, idempotency_key, kind, user_id, amount, memo, created_at) "
        "SELECT :tx, :key, :kind, CAST(:user AS VARCHAR), CAST(:amount AS BIGINT), CAST(:memo AS VARCHAR), "
        f"CAST(:now AS TIMESTAMPTZ) WHERE {applies} RETURNING id)"
    )
    ctes.append(
        "entries AS (INSERT INTO ledger_entries (transaction_id, account_id, amount) SELECT tx.id, v.account, "
        f"v.amount FROM tx, (VALUES {_values('e', list(posting.legs), params)}) AS v(account, amount) RETURNING 1)"
    )
    if posting.opens_hold is not None:
        casts = []
        for column in _HOLD_COLUMNS:
            params[f"h_{column}"] = posting.opens_hold[column]
            casts.append(f"CAST(:h_{column} AS {_TYPES.get(column, 'VARCHAR')})")
        ctes.append(
            f"opened AS (INSERT INTO holds ({', '.join(_HOLD_COLUMNS)}) SELECT {', '.join(casts)} "
            f"WHERE {applies} RETURNING 1)"
        )
    return "WITH " + ", ".join(ctes) + " SELECT count(*) FROM tx", params


async def post(connection: AsyncConnection, posting: Posting) -> bool:
    """Apply ``posting`` in one round trip on an autocommit connection."""
    sql, params = statement(posting)
    applied = (await connection.execute(text(sql), params)).scalar_one()
    if applied:
        return True
    if posting.closes_hold is not None:
        return False  # the hold was settled already
    raise refusal()
