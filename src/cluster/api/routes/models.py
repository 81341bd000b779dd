from __future__ import annotations

from fastapi import APIRouter

from cluster.api.deps import InferenceDep
from cluster.gateway.protocol import ModelCard, ModelList

router = APIRouter(prefix="/v1", tags=["models"])


@router.get("/models", response_model=ModelList)
async def list_models(inference: InferenceDep) -> ModelList:
    return inference.models()


@router.get("/models/{model_id:path}", response_model=ModelCard)
async def get_model(model_id: str, inference: InferenceDep) -> ModelCard:
    return inference.catalog.card(inference.catalog.resolve(model_id))
