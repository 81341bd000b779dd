"""The marketplace API: upload and list datasets, read them at the caller's access level, link wallets,
and creators' earnings."""

from __future__ import annotations

import re
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import ValidationError
from starlette.datastructures import UploadFile
from starlette.responses import Response, StreamingResponse

from cluster.api.access import credentials, principal
from cluster.api.deps import (
    Admin,
    MarketplaceDep,
    Reader,
    RoyaltiesDep,
    ServicesDep,
    Writer,
    X402Dep,
    get_services,
    marketplace_enabled,
)
from cluster.api.responses import json_response
from cluster.auth import Scope
from cluster.chain.protocol import WalletCalls
from cluster.errors import InvalidRequest
from cluster.gateway.context import RequestContext
from cluster.marketplace.protocol import (
    ADDRESS,
    DatasetCreate,
    DatasetList,
    DatasetObject,
    DatasetUpdate,
    Earnings,
    PreviewObject,
    SaleList,
    WalletLink,
    WalletObject,
)
from cluster.marketplace.service import Viewer
from cluster.marketplace.wallets import signed_wallet
from cluster.payments.payment import X402Payment
from cluster.wire.bounds import MAX_OFFSET

# Datasets, wallets, earnings and royalties: all the marketplace's, all off with it.
router = APIRouter(prefix="/v1", tags=["marketplace"], dependencies=[Depends(marketplace_enabled)])
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")
UPLOAD_PIECE = 1 << 20


async def _optional_caller(request: Request) -> Viewer:
    """Public endpoints: an account if a key was sent, a wallet if one signed for this dataset
    (``X-Wallet-Auth``, for buyers with no account), else anonymous."""
    services = get_services(request)
    if await credentials(services, request) is not None:
        return await principal(services, request, Scope.READ)
    proof, slug = request.headers.get("x-wallet-auth"), request.path_params.get("slug")
    if proof is not None and slug is not None:
        return signed_wallet(proof, slug)
    return None


Caller = Annotated[Viewer, Depends(_optional_caller)]


@router.post("/datasets", response_model=DatasetObject, status_code=201)
async def create_dataset(
    request: Request, caller: Writer, market: MarketplaceDep, services: ServicesDep
) -> DatasetObject:
    """Multipart: ``file`` plus the listing fields (name, slug, price, category, license, description, wallet,
    optional format). The file is spooled to disk as it arrives, never held whole in memory."""
    form = await request.form(max_files=1, max_fields=20)
    upload = form.get("file")
    if not isinstance(upload, UploadFile):
        raise InvalidRequest("send the dataset as the multipart field `file`", param="file")
    try:
        fields = DatasetCreate.model_validate({k: v for k, v in form.items() if k != "file"})
    except ValidationError as error:
        first = error.errors()[0]
        raise InvalidRequest(f"{first['msg']} (at '{first['loc'][0]}')", param=str(first["loc"][0])) from None
    folder = services.settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=folder, suffix=".upload") as spool:
        while piece := await upload.read(UPLOAD_PIECE):
            spool.write(piece)
        spool.flush()
        await upload.close()
        return await market.create(caller, Path(spool.name), upload.filename or "upload", fields)


@router.get("/datasets", response_model=DatasetList)
async def browse(
    caller: Caller,
    market: MarketplaceDep,
    category: str | None = None,
    q: str | None = None,
    sort: str = Query("newest", pattern="^(newest|price|name)$"),
    limit: int = Query(20, ge=1, le=100),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
    creator: str | None = Query(None, pattern="^0x[0-9a-fA-F]{40}$", description="the creator's wallet"),
) -> DatasetList:
    return await market.browse(caller, category, q, sort, limit, offset, creator)


@router.get("/datasets/{slug}", response_model=DatasetObject)
async def describe(slug: str, caller: Caller, market: MarketplaceDep) -> DatasetObject:
    return await market.describe(slug, caller)


@router.patch("/datasets/{slug}", response_model=DatasetObject)
async def edit(slug: str, change: DatasetUpdate, caller: Writer, market: MarketplaceDep) -> DatasetObject:
    return await market.update(slug, caller, change)


@router.delete("/datasets/{slug}", response_model=DatasetObject)
async def retire(slug: str, caller: Writer, market: MarketplaceDep) -> DatasetObject:
    """Burn the dataset's NFT and unlist it (buyers keep access to what they bought)."""
    return await market.retire(slug, caller)


@router.get("/datasets/{slug}/preview", response_model=PreviewObject)
async def preview(slug: str, caller: Caller, market: MarketplaceDep) -> PreviewObject:
    return await market.preview(slug, caller)


@router.get("/datasets/{slug}/download")
async def download(slug: str, request: Request, caller: Caller, market: MarketplaceDep) -> Response:
    """The dataset's bytes, exactly as uploaded; ``Range: bytes=a-b`` gives 206 with that slice."""
    wanted = request.headers.get("range")
    span = (lambda size: _range(wanted, size)) if wanted is not None else None
    row, start, end, body = await market.download(slug, caller, span)
    status = 206 if wanted is not None else 200
    headers = {
        "content-length": str(end - start),
        "accept-ranges": "bytes",
        "content-disposition": f'attachment; filename="{row.slug}.{row.format}"',
        "x-content-sha256": row.sha256,
    }
    if status == 206:
        headers["content-range"] = f"bytes {start}-{end - 1}/{row.size}"
    return StreamingResponse(body, status_code=status, media_type="application/octet-stream", headers=headers)


@router.post("/datasets/{slug}/purchase")
async def purchase(
    slug: str, request: Request, market: MarketplaceDep, x402: X402Dep, referrer: str | None = None
) -> Response:
    """Buy with x402: no account needed. The paying wallet gets access on chain (link it to an account to
    download through the API)."""
    if referrer is not None and not ADDRESS.match(referrer):
        raise InvalidRequest("referrer must be a 0x-prefixed 20-byte address", param="referrer")
    ctx = RequestContext(endpoint="datasets.purchase")
    payment = X402Payment(x402, ctx, str(request.url), x402.payment_header(request.headers))
    receipt = await market.purchase(slug, payment, referrer)
    return json_response(receipt, headers=ctx.headers)


@router.get("/datasets/{slug}/purchase/calls", response_model=WalletCalls)
async def purchase_calls(slug: str, market: MarketplaceDep, referrer: str | None = None) -> WalletCalls:
    """Buy from your own wallet instead: the transactions to send (approve the router, then purchase)."""
    if referrer is not None and not ADDRESS.match(referrer):
        raise InvalidRequest("referrer must be a 0x-prefixed 20-byte address", param="referrer")
    return await market.purchase_calls(slug, referrer)


@router.get("/purchases", response_model=DatasetList)
async def purchases(caller: Reader, market: MarketplaceDep) -> DatasetList:
    """The datasets your linked wallets bought."""
    return await market.purchases(caller)


@router.post("/wallets", response_model=WalletObject, status_code=201)
async def link_wallet(body: WalletLink, caller: Writer, market: MarketplaceDep) -> WalletObject:
    """Link a wallet to your account by signing ``link_message`` (EIP-191) with it."""
    return await market.wallets.link(caller.user_id, body)


@router.get("/wallets", response_model=list[str])
async def wallets(caller: Reader, market: MarketplaceDep) -> list[str]:
    return await market.wallets.of(caller.user_id)


@router.post("/admin/royalties/payout")
async def royalties_payout(_: Admin, royalties: RoyaltiesDep) -> dict[str, Any]:
    """Pay every dataset's unpaid royalties from derived models to its holder, on chain."""
    return {"object": "list", "data": await royalties.payout()}


@router.get("/creators/me/sales", response_model=SaleList)
async def sales(caller: Reader, market: MarketplaceDep) -> SaleList:
    """Sales of datasets whose NFT your wallets held, newest first."""
    return await market.sales(caller)


@router.get("/creators/me/operator-calls", response_model=WalletCalls)
async def operator_calls(_: Reader, market: MarketplaceDep) -> WalletCalls:
    """The one transaction that lets the service change prices and retire for your wallet (setApprovalForAll)."""
    return market.operator_calls()


@router.get("/creators/me/earnings", response_model=Earnings)
async def earnings(caller: Reader, market: MarketplaceDep, royalties: RoyaltiesDep) -> Earnings:
    return await market.earnings(caller, await royalties.pending())


def _range(header: str, size: int) -> tuple[int, int]:
    match = _RANGE.match(header.strip())
    if match is None or match.groups() == ("", ""):
        raise InvalidRequest("only a single `bytes=start-end` range is supported", param="range")
    first, last = match.groups()
    if first == "":
        start, end = max(0, size - int(last)), size
    else:
        start, end = int(first), min(size, int(last) + 1) if last else size
    if start >= size or start >= end:
        raise InvalidRequest(f"range not satisfiable for {size} bytes", param="range", code="range_not_satisfiable")
    return start, end
