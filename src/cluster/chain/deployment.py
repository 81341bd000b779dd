"""Deploying Cluster's contracts to a chain, and the record of where they went."""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from cluster.chain.client import ChainClient
from cluster.settings import ContractAddresses

TOKEN_CAP = 1_000_000_000 * 10**18  # 1e9 CP, 18 decimals


class Deployment(BaseModel):
    chain_id: int
    deployer: str
    addresses: ContractAddresses

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.model_dump_json(indent=1) + "\n")
        tmp.replace(path)

    @classmethod
    def read(cls, path: Path) -> Deployment | None:
        if not path.is_file():
            return None
        return cls.model_validate(json.loads(path.read_text()))


async def deploy_all(
    client: ChainClient,
    *,
    treasury: str,
    owner: str | None = None,
    usdc: str | None = None,
    fund: list[str] = (),  # type: ignore[assignment]
    fund_amount: int = 0,
) -> Deployment:
    """Deploy every contract from the client's signer; UUPS contracts behind ERC-1967 proxies.

    ``usdc=None`` deploys TestUSDC (dev chains only) and mints ``fund_amount`` to each of ``fund``. The signer
    owns everything while wiring it up; ownership then moves to ``owner`` if one is given.
    """
    assert client.signer is not None, "deploying needs a signer"
    deployer = client.signer.address
    first = await client.w3.eth.block_number
    if usdc is None:
        usdc = _address(await client.deploy("TestUSDC", deployer))
    token = _address(await client.deploy("ClusterToken", deployer, TOKEN_CAP))
    nft = await _deploy_proxy(client, "DatasetNFT", deployer, deployer)
    registry = await _deploy_proxy(client, "DatasetRegistry", deployer, nft)
    await client.transact(client.contract("DatasetNFT", nft).functions.setMinter(registry))
    router = await _deploy_proxy(client, "PaymentRouter", deployer, usdc, registry, treasury)
    deposits = _address(await client.deploy("Deposits", deployer, usdc, treasury))
    compose_registry = _address(await client.deploy("ComposeRegistry", deployer))
    # ERC-8004 (agents): ownerless registries, as on public chains
    identity = _address(await client.deploy("IdentityRegistry"))
    reputation = _address(await client.deploy("ReputationRegistry", identity))
    validation = _address(await client.deploy("ValidationRegistry", identity))

    if fund_amount:
        test_usdc = client.contract("TestUSDC", usdc)
        for account in fund:
            await client.transact(test_usdc.functions.mint(account, fund_amount))
    if owner is not None and owner.lower() != deployer.lower():
        for name, address in (
            ("ClusterToken", token),
            ("DatasetNFT", nft),
            ("DatasetRegistry", registry),
            ("PaymentRouter", router),
            ("Deposits", deposits),
            ("ComposeRegistry", compose_registry),
        ):
            await client.transact(client.contract(name, address).functions.transferOwnership(owner))

    addresses = ContractAddresses(
        usdc=usdc,
        token=token,
        dataset_nft=nft,
        dataset_registry=registry,
        payment_router=router,
        deposits=deposits,
        compose_registry=compose_registry,
        identity_registry=identity,
        reputation_registry=reputation,
        validation_registry=validation,
        treasury=treasury,
        start_block=first,
    )
    return Deployment(chain_id=client.chain_id, deployer=deployer, addresses=addresses)


async def _deploy_proxy(client: ChainClient, name: str, *initialize_args: object) -> str:
    implementation = _address(await client.deploy(name))
    init = client.contract(name, implementation).encode_abi("initialize", args=list(initialize_args))
    return _address(await client.deploy("ClusterProxy", implementation, init))


async def deploy_implementation(client: ChainClient, name: str) -> str:
    """A new implementation for ``upgradeToAndCall`` on an existing proxy."""
    return _address(await client.deploy(name))


def _address(receipt: object) -> str:
    address = getattr(receipt, "contract_address", None)
    assert address, "a deployment receipt has a contract address"
    return str(address)
