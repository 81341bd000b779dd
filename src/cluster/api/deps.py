"""Services and callers reach routes through these dependencies (tests override them instead of patching)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request

from cluster.api.access import inference_context, principal
from cluster.auth import Principal, Scope
from cluster.gateway.context import RequestContext
from cluster.gateway.service import InferenceService
from cluster.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_inference(request: Request) -> InferenceService:
    return get_services(request).inference


def _caller(scope: Scope) -> Any:
    async def dependency(request: Request) -> Principal:
        return await principal(get_services(request), request, scope)

    return Depends(dependency)


def _inference(endpoint: str) -> Any:
    async def dependency(request: Request) -> RequestContext:
        return await inference_context(get_services(request), request, endpoint)

    return Depends(dependency)


ServicesDep = Annotated[Services, Depends(get_services)]
InferenceDep = Annotated[InferenceService, Depends(get_inference)]
Reader = Annotated[Principal, _caller(Scope.READ)]
Writer = Annotated[Principal, _caller(Scope.WRITE)]
Admin = Annotated[Principal, _caller(Scope.ADMIN)]
ChatAccess = Annotated[RequestContext, _inference("chat.completions")]
EmbeddingsAccess = Annotated[RequestContext, _inference("embeddings")]
