"""The chain read API: where the contracts are, datasets on chain, and the caller's deposits."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Path, Query

from cluster.api.deps import ChainDep, Reader, ServicesDep, chain_enabled
from cluster.chain.protocol import ChainInfo, DatasetOnChain, DepositList, WalletCalls

router = APIRouter(prefix="/v1/chain", tags=["chain"], dependencies=[Depends(chain_enabled)])


@router.get("/info", response_model=ChainInfo)
async def info(chain: ChainDep) -> ChainInfo:
    return await chain.info()


@router.get("/datasets/{dataset}", response_model=DatasetOnChain)
async def dataset(
    chain: ChainDep, dataset: str = Path(description="token id, or the dataset's registry slug")
) -> DatasetOnChain:
    return await chain.dataset(dataset)


@router.get("/deposits", response_model=DepositList)
async def deposits(caller: Reader, chain: ChainDep, services: ServicesDep, user_id: str | None = None) -> DepositList:
    """The caller's deposit reference (pass it to ``Deposits.deposit``) and their deposits so far."""
    owner = user_id or caller.user_id
    services.auth.require_owner_or_admin(caller, owner)
    return await chain.deposit_list(owner)


@router.get("/deposits/calls", response_model=WalletCalls)
async def deposit_calls(
    caller: Reader, chain: ChainDep, amount: int = Query(gt=0, le=10**15, description="micro-USDC to deposit")
) -> WalletCalls:
    """The transactions the caller's wallet sends to deposit ``amount`` (approve, then deposit to their reference)."""
    return await chain.deposit_calls(caller.user_id, amount)
