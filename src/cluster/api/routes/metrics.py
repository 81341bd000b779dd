"""``GET /metrics``: Prometheus's text format, for an admin key (or for anyone with ``metrics.public``)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from cluster.api.access import principal
from cluster.api.deps import ServicesDep
from cluster.auth import Scope
from cluster.errors import FeatureDisabled
from cluster.metering.metrics import CONTENT_TYPE

router = APIRouter(tags=["health"])


@router.get("/metrics", response_class=Response)
async def metrics(request: Request, services: ServicesDep) -> Response:
    settings = services.settings.metrics
    if not settings.enabled:
        raise FeatureDisabled("metrics are disabled on this server (enable them with metrics.enabled = true)")
    if not settings.public:
        await principal(services, request, Scope.ADMIN)
    return Response(services.request_log.metrics.exposition(), media_type=CONTENT_TYPE)
