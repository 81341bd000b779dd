"""Pages anyone may see: home, the model catalog, the dataset marketplace (preview rows for the signed-in)."""

from __future__ import annotations

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from cluster.api.deps import marketplace_enabled
from cluster.errors import ModelNotFound
from cluster.hub.web import HubRoute, ServicesDep, VisitorDep, member, page
from cluster.marketplace.protocol import CATEGORIES
from cluster.wire.openai import ModelCard

router = APIRouter(route_class=HubRoute, include_in_schema=False)


async def _catalog(services: ServicesDep, user_id: str | None) -> list[ModelCard]:
    listing = services.inference.models()
    return [*listing.data, *await services.fine_tuned.cards(user_id)]


@router.get("/")
async def home(request: Request, services: ServicesDep, who: VisitorDep) -> Response:
    market = services.marketplace
    datasets = (await market.browse(None, None, None, "newest", 1, 0)).total if market else 0
    models = len(await _catalog(services, who.user_id))
    base = str(request.base_url).rstrip("/")
    return page(request, "home.html", who, models=models, datasets=datasets, base=base)


@router.get("/models")
async def models(request: Request, services: ServicesDep, who: VisitorDep, task: str | None = None) -> Response:
    """JSON twin: ``GET /v1/models``."""
    cards = await _catalog(services, who.user_id)
    tasks = sorted({card.task for card in cards})
    shown = [card for card in cards if task in (None, "", card.task)]
    return page(request, "models.html", who, models=shown, tasks=tasks, task=task or "")


@router.get("/models/{model_id:path}")
async def model(model_id: str, request: Request, services: ServicesDep, who: VisitorDep) -> Response:
    found = [card for card in await _catalog(services, who.user_id) if card.id == model_id]
    if not found:
        raise ModelNotFound(f"The model '{model_id}' does not exist", param="model")
    base = str(request.base_url).rstrip("/")
    return page(request, "model.html", who, model=found[0], base=base)


@router.get("/datasets")
async def datasets(
    request: Request,
    services: ServicesDep,
    who: VisitorDep,
    q: str | None = Query(None, max_length=200),
    category: str | None = Query(None, max_length=16),
    creator: str | None = Query(None, pattern="^(0x[0-9a-fA-F]{40})?$"),
    sort: str = Query("newest", pattern="^(newest|price|name)$"),
) -> Response:
    """JSON twin: ``GET /v1/datasets``."""
    market = services.marketplace
    listing = await market.browse(None, category or None, q, sort, 100, 0, creator or None) if market else None
    context = {"listing": listing, "q": q or "", "category": category or "", "creator": creator or "", "sort": sort}
    template = "datasets_rows.html" if request.headers.get("hx-request") else "datasets.html"
    return page(request, template, who, categories=CATEGORIES, **context)


@router.get("/datasets/{slug}")
async def dataset(slug: str, request: Request, services: ServicesDep, who: VisitorDep) -> Response:
    """JSON twin: ``GET /v1/datasets/{slug}`` (and ``/preview``)."""
    market = marketplace_enabled(request)
    caller = await member(request) if who.session else None
    item = await market.describe(slug, caller)
    preview = await market.preview(slug, caller) if item.access != "public" else None
    onchain = await services.chain.dataset(slug) if services.chain and item.token_id is not None else None
    return page(request, "dataset.html", who, item=item, preview=preview, onchain=onchain)
