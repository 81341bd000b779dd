"""The marketplace from both sides: a creator's datasets (upload, listing edits, price, retirement, earnings,
sales) and a buyer's purchases. Uploads and wallet purchases go straight to the API from the page (the session
cookie is accepted there, with its CSRF token), so there is one upload path and one purchase path."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import Response

from cluster.api.deps import marketplace_enabled
from cluster.hub.web import HubRoute, MemberDep, ServicesDep, VisitorDep, page
from cluster.marketplace.protocol import CATEGORIES, DatasetUpdate, SaleList

router = APIRouter(route_class=HubRoute, include_in_schema=False)


def _earnings_chart(sales: SaleList) -> dict[str, object]:
    """The 85% received per block (the index knows blocks, not times), oldest first."""
    blocks = sorted({s.block_number for s in sales.data})
    per = {b: 0 for b in blocks}
    for sale in sales.data:
        per[sale.block_number] += sale.received
    return {"labels": [f"block {b}" for b in blocks], "series": [{"label": "sales (85%)", "data": list(per.values())}]}


@router.get("/creator")
async def creator(request: Request, services: ServicesDep, who: VisitorDep, caller: MemberDep) -> Response:
    """JSON twins: ``GET /v1/creators/me/earnings``, ``/v1/creators/me/sales``, ``/v1/datasets?creator=``."""
    market = marketplace_enabled(request)
    royalties = services.royalties
    earnings = await market.earnings(caller, await royalties.pending() if royalties else None)
    sales = await market.sales(caller)
    context = {
        "datasets": await market.created(caller),
        "earnings": earnings,
        "sales": sales,
        "chart": _earnings_chart(sales),
        "wallets": await market.wallets.of(caller.user_id),
        "categories": CATEGORIES,
        "signer": services.chain.client.signer.address if services.chain and services.chain.client.signer else None,
    }
    return page(request, "creator.html", who, **context)


@router.post("/creator/datasets/{slug}")
async def edit(
    slug: str,
    request: Request,
    who: VisitorDep,
    caller: MemberDep,
    name: Annotated[str, Form(min_length=1, max_length=200)],
    price: Annotated[int, Form(ge=0, le=10**15)],
    description: Annotated[str, Form(max_length=10_000)] = "",
    listed: Annotated[bool, Form()] = False,
) -> Response:
    market = marketplace_enabled(request)
    change = DatasetUpdate(name=name, description=description, price=price, listed=listed)
    item = await market.update(slug, caller, change)
    return page(request, "creator_row.html", who, d=item, saved=True)


@router.post("/creator/datasets/{slug}/retire")
async def retire(slug: str, request: Request, who: VisitorDep, caller: MemberDep) -> Response:
    item = await marketplace_enabled(request).retire(slug, caller)
    return page(request, "creator_row.html", who, d=item, saved=True)


@router.get("/purchases")
async def purchases(request: Request, who: VisitorDep, caller: MemberDep) -> Response:
    """JSON twin: ``GET /v1/purchases``."""
    market = marketplace_enabled(request)
    return page(request, "purchases.html", who, bought=await market.purchases(caller))
