"""The chain layer as the rest of the service sees it: one client, the contracts, the indexer, deposits."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.billing import BillingService
from cluster.chain.client import ChainClient
from cluster.chain.contracts import Contracts
from cluster.chain.deposits import DepositBook
from cluster.chain.devchain import DEPLOYER_INDEX, DevChain, dev_key
from cluster.chain.indexer import Indexer
from cluster.chain.models import ChainDeposit, ChainPurchase
from cluster.chain.protocol import (
    ChainInfo,
    DatasetOnChain,
    DepositList,
    DepositObject,
    PurchaseObject,
    WalletCalls,
)
from cluster.errors import InvalidRequest, NotFound, TransactionReverted
from cluster.periodic import running_every
from cluster.settings import ChainSettings, ContractAddresses, Settings

log = logging.getLogger(__name__)


class ChainService:
    def __init__(
        self,
        settings: ChainSettings,
        engine: AsyncEngine,
        client: ChainClient,
        contracts: Contracts,
        deposits: DepositBook,
        indexer: Indexer,
        devchain: DevChain | None = None,
    ) -> None:
        self.settings = settings
        self._engine = engine
        self.client = client
        self.contracts = contracts
        self.deposits = deposits
        self.indexer = indexer
        self.devchain = devchain

    @classmethod
    @asynccontextmanager
    async def running(
        cls, settings: Settings, engine: AsyncEngine, billing: BillingService
    ) -> AsyncIterator[ChainService]:
        """The embedded dev chain (or the configured RPC), the client, the contracts and the indexer polling
        for as long as the block runs; whatever started is stopped, a failed start included."""
        chain = settings.chain
        async with AsyncExitStack() as stack:
            devchain: DevChain | None = None
            if chain.embedded:
                devchain = DevChain(settings.data_dir, chain.dev)
                stack.push_async_callback(asyncio.to_thread, devchain.stop)
                deployment = await devchain.start()
                addresses: ContractAddresses = deployment.addresses
                rpc_url = devchain.url
                key: str | None = chain.signer_key.get_secret_value() if chain.signer_key else dev_key(DEPLOYER_INDEX)
            else:
                assert chain.rpc_url is not None and chain.addresses is not None
                addresses, rpc_url = chain.addresses, chain.rpc_url
                key = chain.signer_key.get_secret_value() if chain.signer_key else None
            client = await ChainClient.connect(rpc_url, signer_key=key, expected_chain_id=chain.chain_id)
            stack.push_async_callback(client.close)
            deposits = DepositBook(engine, billing, usdc=addresses.usdc, eth_price=chain.eth_price)
            indexer = Indexer(
                engine,
                client,
                addresses,
                deposits,
                confirmations=chain.required_confirmations,
                max_block_range=chain.max_block_range,
            )
            await stack.enter_async_context(running_every(chain.poll_interval, indexer.run_once, "chain-indexer"))
            yield cls(chain, engine, client, Contracts(client, addresses), deposits, indexer, devchain)

    @property
    def compose_allowed(self) -> Callable[[bytes], Awaitable[bool]] | None:
        """The on-chain check of confidential providers' enclave builds (None: no ComposeRegistry deployed)."""
        registry = self.contracts.compose_registry
        return registry.allowed if registry else None

    async def info(self) -> ChainInfo:
        indexed, _ = await self.indexer.cursor()
        return ChainInfo(
            chain_id=self.client.chain_id,
            network=f"eip155:{self.client.chain_id}",
            embedded=self.devchain is not None,
            head_block=await self.client.call(self.client.w3.eth.block_number),
            indexed_block=max(indexed, 0),
            confirmations=self.indexer.confirmations,
            signer=self.client.signer.address if self.client.signer else None,
            contracts=self.contracts.addresses,
        )

    async def dataset(self, id_or_slug: str, recent: int = 20) -> DatasetOnChain:
        dataset_id = int(id_or_slug) if id_or_slug.isdigit() else await self.contracts.registry.id_of(id_or_slug)
        try:
            record = await self.contracts.dataset(dataset_id)
        except TransactionReverted as error:
            raise NotFound(f"no dataset {id_or_slug!r} on chain {self.client.chain_id}") from error
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(ChainPurchase)
                    .where(ChainPurchase.chain_id == self.client.chain_id, ChainPurchase.dataset_id == dataset_id)
                    .order_by(ChainPurchase.block_number.desc(), ChainPurchase.log_index.desc())
                    .limit(recent)
                )
            ).all()
        purchases = [PurchaseObject.model_validate(row, from_attributes=True) for row in rows]
        return DatasetOnChain(**record.__dict__, recent_purchases=purchases)

    async def deposit_calls(self, user_id: str, amount: int) -> WalletCalls:
        """What a user's wallet sends to deposit ``amount`` micro-USDC: approve the Deposits contract, then deposit
        under the user's reference (the indexer credits the balance once it sees the event)."""
        if amount <= 0:
            raise InvalidRequest("amount must be a positive number of micro-USDC", param="amount")
        reference = bytes.fromhex((await self.deposits.reference_for(user_id))[2:])
        contracts = self.contracts
        calls = [
            contracts.usdc.call("approve", contracts.deposits.address, amount, description="Allow the deposit"),
            contracts.deposits.call("deposit", reference, amount, description="Deposit into your Cluster balance"),
        ]
        return WalletCalls(chain_id=self.client.chain_id, calls=calls)

    async def deposit_list(self, user_id: str) -> DepositList:
        reference = await self.deposits.reference_for(user_id)
        async with self._engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(ChainDeposit)
                    .where(ChainDeposit.chain_id == self.client.chain_id, ChainDeposit.user_id == user_id)
                    .order_by(ChainDeposit.block_number.desc(), ChainDeposit.log_index.desc())
                )
            ).all()
        return DepositList(
            reference=reference,
            contract=self.contracts.deposits.address,
            usdc=self.contracts.usdc.address,
            chain_id=self.client.chain_id,
            data=[DepositObject.model_validate(row, from_attributes=True) for row in rows],
        )
