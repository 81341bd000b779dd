"""Services reach routes through these dependencies (tests override them instead of patching)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from cluster.gateway.service import InferenceService
from cluster.services import Services


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_inference(request: Request) -> InferenceService:
    return get_services(request).inference


ServicesDep = Annotated[Services, Depends(get_services)]
InferenceDep = Annotated[InferenceService, Depends(get_inference)]
