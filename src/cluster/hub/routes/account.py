"""The developer dashboard: balance and spend, API keys, usage (chart and table of the same numbers, CSV), and
billing (deposit from the wallet, ledger history)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from starlette.responses import Response

from cluster.auth import Scope
from cluster.auth.protocol import KeyCreateRequest
from cluster.errors import InvalidRequest
from cluster.hub.web import HubRoute, MemberDep, ServicesDep, VisitorDep, page
from cluster.metering.usage import UsageReport

router = APIRouter(route_class=HubRoute, include_in_schema=False)


def _today() -> date:
    return datetime.now(UTC).date()


@router.get("/dashboard")
async def dashboard(request: Request, services: ServicesDep, who: VisitorDep, caller: MemberDep) -> Response:
    today = _today()
    month = await services.usage.report(caller.user_id, today.replace(day=1), today, "model", None)
    day = await services.usage.report(caller.user_id, today, today, "model", None)
    top = sorted(month.data, key=lambda b: (-b.cost, -b.requests))[:5]
    balance = await services.billing.balance(caller.user_id)
    return page(request, "dashboard.html", who, balance=balance, month=month, day=day, top=top)


# -- keys ---------------------------------------------------------------------------------------------------
@router.get("/keys")
async def keys(request: Request, services: ServicesDep, who: VisitorDep, caller: MemberDep) -> Response:
    """JSON twin: ``GET /v1/keys``."""
    listed = await services.auth.list_keys(caller)
    return page(request, "keys.html", who, keys=listed, models=[m.id for m in services.inference.models().data])


@router.post("/keys")
async def create_key(
    request: Request,
    services: ServicesDep,
    who: VisitorDep,
    caller: MemberDep,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    scope: Annotated[str, Form(pattern="^(read|write|admin)$")] = "write",
    expires_in_days: Annotated[str, Form(max_length=10)] = "",
    models: Annotated[str, Form(max_length=4000)] = "",
    rpm: Annotated[str, Form(max_length=12)] = "",
    tpm: Annotated[str, Form(max_length=20)] = "",
    tee_only: Annotated[bool, Form()] = False,
) -> Response:
    scopes = {"read": [Scope.READ], "write": [Scope.READ, Scope.WRITE], "admin": [Scope.READ, Scope.WRITE, Scope.ADMIN]}
    request_body = KeyCreateRequest(
        name=name,
        scopes=scopes[scope],
        models=[m.strip() for m in models.split(",") if m.strip()] or None,
        expires_in_days=_number(expires_in_days, "expires_in_days", float),
        rpm=_number(rpm, "rpm", int),
        tpm=_number(tpm, "tpm", int),
        tee_only=tee_only,
    )
    created = await services.auth.create_key(caller, request_body)
    listed = await services.auth.list_keys(caller)
    return page(request, "keys_created.html", who, created=created, keys=listed)


@router.post("/keys/{key_id}/revoke")
async def revoke_key(
    key_id: str, request: Request, services: ServicesDep, who: VisitorDep, caller: MemberDep
) -> Response:
    await services.auth.revoke_key(caller, key_id)
    return page(request, "keys_rows.html", who, keys=await services.auth.list_keys(caller))


def _number(text: str, param: str, kind: type[int] | type[float]) -> int | float | None:
    if not text.strip():
        return None
    try:
        return kind(text)
    except ValueError:
        raise InvalidRequest(f"{param} must be a number", param=param) from None


# -- usage --------------------------------------------------------------------------------------------------
async def usage_report(
    services: ServicesDep,
    caller: MemberDep,
    start: date | None = None,
    end: date | None = None,
    by: str = Query("model", pattern="^(model|key|day)$"),
) -> tuple[UsageReport, str]:
    """The signed-in account's usage per UTC day and ``by`` (the last 14 days unless a range is given)."""
    end = end or _today()
    start = start or end - timedelta(days=13)
    report = await services.usage.report(caller.user_id, start, end, f"day,{by}" if by != "day" else "day", None)
    return report, by


UsageDep = Annotated[tuple[UsageReport, str], Depends(usage_report)]


@router.get("/usage")
async def usage(request: Request, who: VisitorDep, shown: UsageDep) -> Response:
    """JSON twin: ``GET /v1/usage?start=&end=&group_by=day,model``. Days are UTC days."""
    report, by = shown
    return page(request, "usage.html", who, report=report, by=by, chart=_chart(report, by))


@router.get("/usage.csv")
async def usage_csv(shown: UsageDep) -> Response:
    report, _ = shown
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["day_utc", "model", "key_id", "requests", "errors", *TOKENS, "cost_micro_usdc"])
    for b in report.data:
        counts = [b.requests, b.errors, b.prompt_tokens, b.completion_tokens, b.cost]
        writer.writerow([b.day, b.model or "", b.key_id or "", *counts])
    name = f"cluster-usage-{report.start}-{report.end}.csv"
    disposition = {"content-disposition": f'attachment; filename="{name}"'}
    return Response(out.getvalue(), media_type="text/csv", headers=disposition)


TOKENS = ["prompt_tokens", "completion_tokens"]


def _chart(report: UsageReport, by: str) -> dict[str, object]:
    """Stacked bars per UTC day: one series per model (or key), the sum over everything else in the group.
    Every day of the range is present, so an idle day is a zero, not a gap."""
    days = [report.start + timedelta(days=i) for i in range((report.end - report.start).days + 1)]
    labels = [d.isoformat() for d in days]
    series: dict[str, dict[str, list[int]]] = {}
    for bucket in report.data:
        name = (bucket.model if by == "model" else bucket.key_id if by == "key" else "all") or "—"
        entry = series.setdefault(name, {"calls": [0] * len(days), "tokens": [0] * len(days)})
        index = labels.index(bucket.day.isoformat()) if bucket.day else 0
        entry["calls"][index] += bucket.requests
        entry["tokens"][index] += bucket.prompt_tokens + bucket.completion_tokens
    return {"labels": labels, "series": [{"name": k, **v} for k, v in sorted(series.items())]}


# -- billing ------------------------------------------------------------------------------------------------
@router.get("/billing")
async def billing(request: Request, services: ServicesDep, who: VisitorDep, caller: MemberDep) -> Response:
    """JSON twins: ``GET /v1/balance``, ``/v1/balance/history``, ``/v1/chain/deposits``."""
    balance = await services.billing.balance(caller.user_id)
    history = await services.billing.history(caller.user_id)
    deposits = await services.chain.deposit_list(caller.user_id) if services.chain else None
    today = _today()
    spend = await services.usage.report(caller.user_id, today - timedelta(days=13), today, "day", None)
    template = "billing_balance.html" if request.headers.get("hx-request") else "billing.html"
    return page(request, template, who, balance=balance, history=history, deposits=deposits, spend=spend)
