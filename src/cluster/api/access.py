"""Who pays for a request and may they make it: the access step in front of every paid endpoint.

Order: per-IP request limit → API key (401) → scope (403) → per-key request limit (429) → the request's
token budget and balance payment, which the inference path draws on once it knows the request's size.
A request with no key is paid with x402 instead when x402 is on: its price is known only once the model and
the body are, so the 402 (or the verification of the payment it carries) happens there, in ``authorize``.
"""

from __future__ import annotations

from fastapi import Request

from cluster.auth import Principal, Scope
from cluster.auth.ratelimit import KeyTokenBudget
from cluster.auth.sessions import COOKIE, CSRF_HEADER
from cluster.auth.times import utcnow
from cluster.billing import AccountPayment
from cluster.errors import PermissionDenied
from cluster.gateway.context import RequestContext
from cluster.payments.payment import X402Payment
from cluster.services import Services

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


async def credentials(services: Services, request: Request) -> str | None:
    """The request's ``Authorization``, or the Hub's session cookie as a bearer session: a signed-in browser calls
    the API as its user. Cookies ride along cross-site requests, so a state change by cookie must carry the
    session's CSRF token (``X-CSRF-Token``); a read need not (SameSite=Lax, and it changes nothing)."""
    header = request.headers.get("authorization")
    token = request.cookies.get(COOKIE)
    if header is not None or token is None:
        return header
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER)
        if not await services.auth.sessions.csrf_ok(token, sent, utcnow()):
            raise PermissionDenied(
                "a signed-in browser's request that changes something must carry X-CSRF-Token", code="csrf_failed"
            )
    return f"Bearer {token}"


def _ip_take(services: Services, request: Request) -> tuple[str, int | None, int, str]:
    client = request.client.host if request.client else "unknown"
    return f"ip:{client}", services.settings.limits.ip_rpm, 1, "requests"


async def principal(services: Services, request: Request, scope: Scope) -> Principal:
    """The authenticated caller of a management endpoint, with ``scope``."""
    with services.tracing.span("limits"):
        await services.limiter.take_all([_ip_take(services, request)])
    with services.tracing.span("auth"):
        caller = await services.auth.authenticate(await credentials(services, request))
        caller.require(scope)
    return caller


async def inference_context(services: Services, request: Request, endpoint: str) -> RequestContext:
    pinned = request.headers.get("x-cluster-tee-provider")
    ctx = RequestContext(
        endpoint=endpoint,
        require_tee=request.headers.get("x-cluster-tee") == "required" or pinned is not None,
        pinned_provider=pinned,
    )
    header = await credentials(services, request)
    if header is None and not services.settings.auth.required:
        for window in await services.limiter.take_all([_ip_take(services, request)]):
            ctx.headers.update(window.headers())
        return ctx  # an open gateway: no key, no charge
    if header is None and services.x402 is not None:
        for window in await services.limiter.take_all([_ip_take(services, request)]):
            ctx.headers.update(window.headers())
        ctx.default_max_tokens = services.x402.settings.default_max_tokens
        payment = services.x402.payment_header(request.headers)
        ctx.payment = X402Payment(services.x402, ctx, str(request.url), payment)
        return ctx
    with services.tracing.span("auth"):
        caller = await services.auth.authenticate(header)
        caller.require(Scope.WRITE)
    limits = services.settings.limits
    key_take = (f"key:{caller.key_id}", caller.rpm or limits.key_rpm, 1, "requests")
    # The IP's and the key's request windows in one atomic step; the key's headers win.
    with services.tracing.span("limits"):
        windows = await services.limiter.take_all([_ip_take(services, request), key_take])
    for window in windows:
        ctx.headers.update(window.headers())
    ctx.key_id, ctx.user_id, ctx.allowed_models = caller.key_id, caller.user_id, caller.models
    ctx.require_tee = ctx.require_tee or caller.tee_only
    tpm = caller.tpm or limits.key_tpm
    if tpm is not None:
        ctx.budget = KeyTokenBudget(services.limiter, f"key:{caller.key_id}", tpm, ctx.headers)
    ctx.payment = AccountPayment(services.billing, caller.user_id)
    return ctx
