"""Confidential inference: ``GET /v1/receipts/{id}`` (a response's receipt, with the attestation it was verified
against, re-verifiable offline by ``cluster verify``; hashes, never content) and ``GET /v1/tee/attestation``
(a fresh report from a confidential provider for the caller's own nonce, so a client can verify the enclave
itself before it encrypts to it)."""

from __future__ import annotations

from typing import Any

import aiohttp
from fastapi import APIRouter, Query

from cluster.api.deps import InferenceDep, Reader, ServicesDep
from cluster.errors import NotFound, ProviderUnavailable
from cluster.providers.confidential import ConfidentialProvider
from cluster.tee.receipts import Receipt

router = APIRouter(prefix="/v1", tags=["tee"])


@router.get("/receipts/{receipt_id}", response_model=Receipt)
async def receipt(receipt_id: str, caller: Reader, services: ServicesDep) -> Receipt:
    """The caller's own receipts (admins: any). Share the JSON to let others verify it."""
    found = await services.receipts.get(receipt_id, None if caller.is_admin else caller.user_id)
    if found is None:
        raise NotFound(f"no receipt {receipt_id!r}", param="receipt_id", code="receipt_not_found")
    return found


@router.get("/tee/attestation")
async def attestation(
    _: Reader, inference: InferenceDep, model: str, nonce: str = Query(pattern="^[0-9a-fA-F]{64}$")
) -> dict[str, Any]:
    """The report exactly as the provider gave it, plus which provider and upstream model it came from."""
    entry = inference.catalog.resolve(model)
    for route in entry.routes:
        upstream = inference.router.get(route.provider)
        if upstream is not None and isinstance(upstream.provider, ConfidentialProvider):
            try:
                report = await upstream.provider.report(nonce, route.upstream_model)
            except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
                raise ProviderUnavailable(f"the provider gave no attestation report: {exc}") from None
            return {"provider": route.provider, "model": route.upstream_model, "report": report}
    raise ProviderUnavailable(f"no confidential (TEE) provider serves '{model}'")
