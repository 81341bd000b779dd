"""``GET /v1/receipts/{id}``: a confidential response's receipt, with the attestation it was verified against, so
anyone holding the id can re-verify it offline (``cluster verify``). It holds hashes, never content."""

from __future__ import annotations

from fastapi import APIRouter

from cluster.api.deps import ServicesDep
from cluster.errors import NotFound
from cluster.tee.receipts import Receipt

router = APIRouter(prefix="/v1", tags=["tee"])


@router.get("/receipts/{receipt_id}", response_model=Receipt)
async def receipt(receipt_id: str, services: ServicesDep) -> Receipt:
    found = await services.receipts.get(receipt_id) if services.receipts else None
    if found is None:
        raise NotFound(f"no receipt {receipt_id!r}", param="receipt_id", code="receipt_not_found")
    return found
