"""Before a request is routed: is the model allowed for this key, do the token budget and the balance cover
its worst case? After it is served: the true-up. The worst case is a usage bound (for chat: the prompt's byte
count, an upper bound on its tokens, plus the output cap); the charge is the usage actually served at the
model's prices."""

from __future__ import annotations

from collections.abc import Callable

import anyio

from cluster.billing import pricing
from cluster.errors import PermissionDenied
from cluster.gateway.catalog import CatalogEntry
from cluster.gateway.context import RequestContext
from cluster.metering import Usage

BYTES_PER_TOKEN = 4  # for the rate-limit estimate only; money uses the strict byte bound


async def admit(ctx: RequestContext, entry: CatalogEntry, bound: Callable[[], Usage]) -> None:
    """``bound`` is only computed when a budget or a payment needs it (an open gateway skips it)."""
    if ctx.allowed_models is not None and entry.id not in ctx.allowed_models:
        raise PermissionDenied(f"this key may not use '{entry.id}'", param="model", code="model_not_allowed")
    if ctx.budget is None and ctx.payment is None:
        return
    worst = bound()
    if ctx.budget is not None:
        await ctx.budget.reserve(worst.prompt_tokens // BYTES_PER_TOKEN + worst.completion_tokens)
    if ctx.payment is not None:
        await ctx.payment.authorize(pricing.cost(entry.model, worst))


async def conclude(ctx: RequestContext, entry: CatalogEntry, usage: Usage | None) -> int:
    """Settle what was served; returns the cost recorded for analytics (what was charged, or list price)."""
    usage = usage or Usage(estimated=True)
    cost = pricing.cost(entry.model, usage)
    with anyio.CancelScope(shield=True):  # a client leaving must not interrupt the money
        if ctx.payment is not None:
            await ctx.payment.settle(cost)
            cost = ctx.payment.charged
        if ctx.budget is not None:
            await ctx.budget.commit(usage.tokens)
    return cost


async def abort(ctx: RequestContext) -> None:
    with anyio.CancelScope(shield=True):
        if ctx.payment is not None:
            await ctx.payment.cancel()
        if ctx.budget is not None:
            await ctx.budget.commit(0)
