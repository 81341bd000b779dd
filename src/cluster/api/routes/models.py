from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from cluster.api.access import credentials, principal
from cluster.api.deps import InferenceDep, ServicesDep, Writer
from cluster.auth import Scope
from cluster.errors import ModelNotFound
from cluster.wire.openai import ModelCard, ModelList

router = APIRouter(prefix="/v1", tags=["models"])


async def _user(request: Request, services: ServicesDep) -> str | None:
    """Public listing; with a key, the caller's own fine-tuned models are listed too."""
    if await credentials(services, request) is None:
        return None
    return (await principal(services, request, Scope.READ)).user_id


@router.get("/models", response_model=ModelList)
async def list_models(request: Request, inference: InferenceDep, services: ServicesDep) -> ModelList:
    listing = inference.models()
    listing.data.extend(await services.fine_tuned.cards(await _user(request, services)))
    return listing


@router.get("/models/{model_id:path}", response_model=ModelCard)
async def get_model(model_id: str, request: Request, inference: InferenceDep, services: ServicesDep) -> ModelCard:
    if inference.catalog.has(model_id):
        return inference.catalog.card(inference.catalog.resolve(model_id))
    entry = await services.fine_tuned.resolve(model_id, await _user(request, services))
    if entry is None:
        raise ModelNotFound(f"The model '{model_id}' does not exist", param="model")
    return inference.catalog.card(entry)


@router.delete("/models/{model_id:path}")
async def delete_model(model_id: str, caller: Writer, services: ServicesDep) -> dict[str, Any]:
    """Fine-tuned models only (their owner's); the job and its history stay."""
    if not model_id.startswith("ft:"):
        raise ModelNotFound(f"The model '{model_id}' does not exist or cannot be deleted", param="model")
    return await services.fine_tuned.delete(caller, model_id)
