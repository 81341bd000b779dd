from __future__ import annotations

from fastapi import APIRouter
from starlette.responses import Response

from cluster.api.deps import InferenceDep
from cluster.api.responses import json_response

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(inference: InferenceDep) -> Response:
    """Liveness plus each provider's breaker state, load and latency."""
    return json_response({"status": "ok", "providers": inference.router.status()})
