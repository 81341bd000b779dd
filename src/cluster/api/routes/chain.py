"""The chain read API: where the contracts are, datasets on chain, and the caller's deposits."""

from __future__ import annotations

from fastapi import APIRouter, Path

from cluster.api.deps import Reader, ServicesDep
from cluster.chain.protocol import ChainInfo, DatasetOnChain, DepositList
from cluster.chain.service import ChainService
from cluster.errors import NotFound
from cluster.services import Services

router = APIRouter(prefix="/v1/chain", tags=["chain"])


def _chain(services: Services) -> ChainService:
    if services.chain is None:
        raise NotFound("the chain layer is disabled on this server (chain.enabled = false)")
    return services.chain


@router.get("/info", response_model=ChainInfo)
async def info(services: ServicesDep) -> ChainInfo:
    return await _chain(services).info()


@router.get("/datasets/{dataset}", response_model=DatasetOnChain)
async def dataset(
    services: ServicesDep, dataset: str = Path(description="token id, or the dataset's registry slug")
) -> DatasetOnChain:
    return await _chain(services).dataset(dataset)


@router.get("/deposits", response_model=DepositList)
async def deposits(caller: Reader, services: ServicesDep, user_id: str | None = None) -> DepositList:
    """The caller's deposit reference (pass it to ``Deposits.deposit``) and their deposits so far."""
    owner = user_id or caller.user_id
    services.auth.require_owner_or_admin(caller, owner)
    return await _chain(services).deposit_list(owner)
