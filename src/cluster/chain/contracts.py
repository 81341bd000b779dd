"""Typed wrappers over Cluster's contracts: what the service reads and sends, in Python types."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from web3.contract import AsyncContract
from web3.logs import DISCARD

from cluster.chain.client import ChainClient, Receipt
from cluster.chain.protocol import WalletCall
from cluster.settings import ContractAddresses

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")


def events_in(contract: AsyncContract, name: str, receipt: Receipt) -> list[Any]:
    """``name`` events this contract emitted in the receipt (other contracts' logs skipped silently)."""
    return list(contract.events[name]().process_receipt(receipt.raw, errors=DISCARD))


class _Bound:
    artifact: str

    def __init__(self, client: ChainClient, address: str) -> None:
        self.client = client
        self.address = client.w3.to_checksum_address(address)
        self.contract: AsyncContract = client.contract(self.artifact, self.address)

    async def _read(self, name: str, *args: Any) -> Any:
        return await self.client.call(self.contract.functions[name](*self._args(args)).call())

    async def _send(self, name: str, *args: Any, value: int = 0, gas: int | None = None) -> Receipt:
        function = self.contract.functions[name](*self._args(args))
        return await self.client.transact(function, value=value, gas=gas)

    def call(self, name: str, *args: Any, description: str) -> WalletCall:
        """The same function as a transaction for a user's wallet to send (nothing is sent from here)."""
        data = self.contract.encode_abi(name, args=self._args(args))
        return WalletCall(to=self.address, data=data, description=description)

    def _args(self, args: tuple[Any, ...]) -> list[Any]:
        """Addresses in any case (the database keeps them lower-case); web3 wants them checksummed."""
        return [self.client.w3.to_checksum_address(a) if isinstance(a, str) and _ADDRESS.match(a) else a for a in args]


class Usdc(_Bound):
    """USDC on Base, TestUSDC on dev chains: the same interface and revert strings."""

    artifact = "TestUSDC"

    async def balance_of(self, account: str) -> int:
        return int(await self._read("balanceOf", account))

    async def authorization_state(self, authorizer: str, nonce: bytes) -> bool:
        return bool(await self._read("authorizationState", authorizer, nonce))

    async def eip712_domain(self) -> tuple[str, str]:
        """The token's EIP-712 (name, version): what authorizations must be signed over."""
        return str(await self._read("name")), str(await self._read("version"))

    async def mint(self, to: str, amount: int) -> Receipt:
        """TestUSDC only."""
        return await self._send("mint", to, amount)

    async def transfer(self, to: str, amount: int) -> Receipt:
        return await self._send("transfer", to, amount)

    async def approve(self, spender: str, amount: int) -> Receipt:
        return await self._send("approve", spender, amount)

    async def allowance(self, owner: str, spender: str) -> int:
        return int(await self._read("allowance", owner, spender))


@dataclass(frozen=True)
class TransferAuthorization:
    """EIP-3009 TransferWithAuthorization, as signed."""

    from_: str
    to: str
    value: int
    valid_after: int
    valid_before: int
    nonce: bytes


@dataclass(frozen=True)
class DatasetRecord:
    dataset_id: int
    slug: str
    creator: str
    holder: str
    price: int
    token_uri: str
    purchases: int


class DatasetRegistry(_Bound):
    artifact = "DatasetRegistry"

    async def register(self, creator: str, slug: str, metadata_cid: str, price: int) -> tuple[int, Receipt]:
        receipt = await self._send("register", creator, slug, metadata_cid, price)
        (event,) = events_in(self.contract, "DatasetRegistered", receipt)
        return int(event["args"]["datasetId"]), receipt

    async def id_of(self, slug: str) -> int:
        return int(await self._read("idOf", slug))

    async def price_of(self, dataset_id: int) -> int:
        return int(await self._read("priceOf", dataset_id))

    async def set_price(self, dataset_id: int, price: int) -> Receipt:
        return await self._send("setPrice", dataset_id, price)

    async def set_metadata(self, dataset_id: int, metadata_cid: str) -> Receipt:
        return await self._send("setMetadata", dataset_id, metadata_cid)

    async def retire(self, dataset_id: int) -> Receipt:
        return await self._send("retire", dataset_id)

    async def dataset_of(self, dataset_id: int) -> tuple[str, int, str]:
        creator, price, slug = await self._read("datasetOf", dataset_id)
        return str(creator), int(price), str(slug)


class DatasetNft(_Bound):
    artifact = "DatasetNFT"

    async def owner_of(self, dataset_id: int) -> str:
        return str(await self._read("ownerOf", dataset_id))

    async def token_uri(self, dataset_id: int) -> str:
        return str(await self._read("tokenURI", dataset_id))


class PaymentRouter(_Bound):
    artifact = "PaymentRouter"

    async def purchase(self, dataset_id: int, referrer: str) -> Receipt:
        return await self._send("purchase", dataset_id, referrer)

    async def purchase_for(self, dataset_id: int, buyer: str, referrer: str) -> Receipt:
        return await self._send("purchaseFor", dataset_id, buyer, referrer)

    async def has_access(self, buyer: str, dataset_id: int) -> bool:
        return bool(await self._read("hasAccess", buyer, dataset_id))

    async def purchase_count(self, dataset_id: int) -> int:
        return int(await self._read("purchaseCount", dataset_id))

    async def split_of(self, price: int, has_referrer: bool) -> tuple[int, int, int]:
        creator, treasury, referrer = await self._read("splitOf", price, has_referrer)
        return int(creator), int(treasury), int(referrer)


class Deposits(_Bound):
    artifact = "Deposits"

    async def deposit(self, account: bytes, amount: int) -> Receipt:
        return await self._send("deposit", account, amount)

    async def deposit_eth(self, account: bytes, value: int) -> Receipt:
        return await self._send("depositETH", account, value=value)


class ComposeRegistry(_Bound):
    """The compose hashes (enclave builds) confidential providers may run (``contracts/ComposeRegistry.sol``)."""

    artifact = "ComposeRegistry"

    async def allowed(self, compose_hash: bytes) -> bool:
        return bool(await self._read("allowedComposeHashes", compose_hash))

    async def add(self, compose_hash: bytes) -> Receipt:
        return await self._send("addComposeHash", compose_hash)

    async def remove(self, compose_hash: bytes) -> Receipt:
        return await self._send("removeComposeHash", compose_hash)

    async def allowed_hashes(self, from_block: int = 0) -> list[bytes]:
        """Every hash ever added (from the events) that is allowed now, in the order first added."""
        logs = await self.client.call(self.contract.events.ComposeHashAdded.get_logs(from_block=from_block))
        added = list(dict.fromkeys(bytes(log["args"]["composeHash"]) for log in logs))
        return [compose_hash for compose_hash in added if await self.allowed(compose_hash)]


class Contracts:
    """Every contract of one deployment, bound to one client."""

    def __init__(self, client: ChainClient, addresses: ContractAddresses) -> None:
        self.client = client
        self.addresses = addresses
        self.usdc = Usdc(client, addresses.usdc)
        self.registry = DatasetRegistry(client, _need(addresses.dataset_registry, "dataset_registry"))
        self.nft = DatasetNft(client, _need(addresses.dataset_nft, "dataset_nft"))
        self.router = PaymentRouter(client, _need(addresses.payment_router, "payment_router"))
        self.deposits = Deposits(client, _need(addresses.deposits, "deposits"))
        self.compose_registry = (
            ComposeRegistry(client, addresses.compose_registry) if addresses.compose_registry else None
        )

    async def dataset(self, dataset_id: int) -> DatasetRecord:
        creator, price, slug = await self.registry.dataset_of(dataset_id)
        return DatasetRecord(
            dataset_id=dataset_id,
            slug=slug,
            creator=creator,
            holder=await self.nft.owner_of(dataset_id),
            price=price,
            token_uri=await self.nft.token_uri(dataset_id),
            purchases=await self.router.purchase_count(dataset_id),
        )


def _need(address: str | None, name: str) -> str:
    if not address:
        raise ValueError(f"chain.addresses.{name} is not configured")
    return address
