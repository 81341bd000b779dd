"""Users, balances and usage."""

from __future__ import annotations

from datetime import date

from fastapi import APIRouter, Query

from cluster.api.deps import Admin, Reader, ServicesDep
from cluster.auth.protocol import UserCreateRequest, UserObject
from cluster.billing.protocol import AdjustRequest, BalanceObject, LedgerHistory
from cluster.metering.usage import UsageReport

router = APIRouter(prefix="/v1", tags=["accounts"])


@router.post("/users", response_model=UserObject, status_code=201)
async def create_user(body: UserCreateRequest, _: Admin, services: ServicesDep) -> UserObject:
    return await services.auth.create_user(body.name, body.role)


@router.get("/users/me", response_model=UserObject)
async def me(caller: Reader, services: ServicesDep) -> UserObject:
    return await services.auth.get_user(caller.user_id)


@router.get("/balance/history", response_model=LedgerHistory)
async def balance_history(caller: Reader, services: ServicesDep, limit: int = Query(50, ge=1, le=500)) -> LedgerHistory:
    """The newest ledger postings that moved your available balance."""
    return await services.billing.history(caller.user_id, limit)


@router.get("/balance", response_model=BalanceObject)
async def balance(caller: Reader, services: ServicesDep, user_id: str | None = None) -> BalanceObject:
    owner = user_id or caller.user_id
    services.auth.require_owner_or_admin(caller, owner)
    return await services.billing.balance(owner)


@router.post("/admin/credit", response_model=BalanceObject)
async def credit(body: AdjustRequest, _: Admin, services: ServicesDep) -> BalanceObject:
    """Add micro-USDC to a user's balance; the same ``idempotency_key`` never credits twice."""
    await services.auth.get_user(body.user_id)
    return await services.billing.credit(body)


@router.post("/admin/debit", response_model=BalanceObject)
async def debit(body: AdjustRequest, _: Admin, services: ServicesDep) -> BalanceObject:
    return await services.billing.debit(body)


@router.get("/usage", response_model=UsageReport)
async def usage(
    caller: Reader,
    services: ServicesDep,
    start: date,
    end: date,
    group_by: str = Query("model,day", description="comma-separated: model, day, key"),
    user_id: str | None = None,
    key_id: str | None = None,
) -> UsageReport:
    owner = user_id or caller.user_id
    services.auth.require_owner_or_admin(caller, owner)
    return await services.usage.report(owner, start, end, group_by, key_id)
