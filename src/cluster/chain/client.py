"""Async access to an Ethereum JSON-RPC node: calls, transactions with receipts, deployments, revert reasons.

One ``ChainClient`` per process, over web3.py's ``AsyncWeb3``. Reverts surface as ``TransactionReverted`` with
the contract's own reason (a revert string, a panic, or one of our custom errors decoded with its arguments);
an unreachable node as ``ChainUnavailable``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any, TypeVar

import aiohttp
from eth_abi.abi import decode as abi_decode
from hexbytes import HexBytes
from web3 import AsyncHTTPProvider, AsyncWeb3
from web3.contract import AsyncContract
from web3.exceptions import ContractLogicError, Web3RPCError
from web3.types import TxReceipt

from cluster.chain import artifacts
from cluster.chain.signer import Signer
from cluster.errors import ChainUnavailable, ClusterError, TransactionReverted

T = TypeVar("T")

_ERROR_STRING = bytes.fromhex("08c379a0")
_PANIC = bytes.fromhex("4e487b71")
GAS_MARGIN = 1.2  # over the estimate: state can move between estimate and inclusion


@dataclass(frozen=True)
class Receipt:
    tx_hash: str
    block_number: int
    block_hash: str
    gas_used: int
    contract_address: str | None
    raw: TxReceipt


class ChainClient:
    def __init__(self, w3: AsyncWeb3[Any], chain_id: int, signer: Signer | None, rpc_url: str = "") -> None:
        self.w3 = w3
        self.rpc_url = rpc_url
        self.chain_id = chain_id
        self.signer = signer

    @classmethod
    async def connect(
        cls, rpc_url: str, *, signer_key: str | None = None, expected_chain_id: int | None = None
    ) -> ChainClient:
        w3: AsyncWeb3[Any] = AsyncWeb3(AsyncHTTPProvider(rpc_url, request_kwargs={"timeout": 30}))
        try:
            chain_id = await guard(w3.eth.chain_id)
            if expected_chain_id is not None and chain_id != expected_chain_id:
                raise ClusterError(f"{rpc_url} is chain {chain_id}, configured for {expected_chain_id}")
        except BaseException:
            await _disconnect(w3)
            raise
        return cls(w3, chain_id, Signer(w3, signer_key) if signer_key else None, rpc_url)

    async def close(self) -> None:
        await _disconnect(self.w3)

    def contract(self, name: str, address: str) -> AsyncContract:
        return self.w3.eth.contract(address=self.w3.to_checksum_address(address), abi=artifacts.load(name).abi)

    async def call(self, awaitable: Awaitable[T]) -> T:
        """Await a contract read, converting reverts and connection failures."""
        return await guard(awaitable)

    async def transact(
        self, function: Any, *, value: int = 0, confirmations: int = 0, gas: int | None = None
    ) -> Receipt:
        """Send a contract function call (or constructor) from the service's signer and wait for its receipt.

        The gas estimate doubles as a dry run: a call that would revert raises ``TransactionReverted`` with
        the reason before anything is broadcast. A fixed ``gas`` skips it (the transaction is mined even if it
        reverts; the reason is then read by replaying it at its block).
        """
        if self.signer is None:
            raise ClusterError("no chain signer is configured (chain.signer_key)")
        params: dict[str, Any] = {"from": self.signer.address, "value": value, "chainId": self.chain_id}
        if gas is not None:
            params["gas"] = gas
        tx = await guard(function.build_transaction(params))
        if gas is None:
            tx["gas"] = int(tx["gas"] * GAS_MARGIN)
        tx_hash = await guard(self.signer.send(tx))
        return await self.wait(tx_hash, confirmations=confirmations)

    async def deploy(self, name: str, *args: Any) -> Receipt:
        artifact = artifacts.load(name)
        factory = self.w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
        return await self.transact(factory.constructor(*args))

    async def wait(self, tx_hash: bytes, *, confirmations: int = 0, within: float = 120.0) -> Receipt:
        raw = await guard(
            self.w3.eth.wait_for_transaction_receipt(HexBytes(tx_hash), timeout=within, poll_latency=0.05)
        )
        receipt = Receipt(
            tx_hash="0x" + bytes(raw["transactionHash"]).hex(),
            block_number=raw["blockNumber"],
            block_hash="0x" + bytes(raw["blockHash"]).hex(),
            gas_used=raw["gasUsed"],
            contract_address=raw.get("contractAddress"),
            raw=raw,
        )
        if raw["status"] != 1:
            raise TransactionReverted(await self._replay_reason(tx_hash), tx_hash=receipt.tx_hash)
        while confirmations:  # polling a remote node: nothing local to wait on
            if await guard(self.w3.eth.block_number) - receipt.block_number + 1 >= confirmations:
                break
            await asyncio.sleep(0.5)
        return receipt

    async def _replay_reason(self, tx_hash: bytes) -> str:
        """A mined revert carries no reason: re-run the call at its block to get one."""
        tx = await self.w3.eth.get_transaction(HexBytes(tx_hash))
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "value": tx["value"]}
        try:
            await self.w3.eth.call(call, tx["blockNumber"])  # type: ignore[arg-type]
        except ContractLogicError as error:
            return revert_reason(error)
        return "reverted (no reason given)"


async def guard(awaitable: Awaitable[T]) -> T:
    try:
        return await awaitable
    except ContractLogicError as error:
        raise TransactionReverted(revert_reason(error)) from error
    except (aiohttp.ClientError, ConnectionError, TimeoutError) as error:
        raise ChainUnavailable(f"the chain node cannot be reached: {error}") from error
    except Web3RPCError as error:
        raise ClusterError(f"the chain node refused the request: {error.message or error}") from error


def revert_reason(error: ContractLogicError) -> str:
    """The contract's reason: a ``require`` string, a panic code, or a custom error with its arguments."""
    data = error.data
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return decode_revert(bytes.fromhex(data[2:]))
    message = str(error.message or error)
    return message.removeprefix("execution reverted: ").removeprefix("execution reverted") or "reverted"


def decode_revert(data: bytes) -> str:
    selector, payload = data[:4], data[4:]
    if selector == _ERROR_STRING:
        return str(abi_decode(["string"], payload)[0])
    if selector == _PANIC:
        return f"panic 0x{abi_decode(['uint256'], payload)[0]:02x}"
    known = artifacts.custom_errors().get(selector)
    if known is None:
        return f"custom error 0x{selector.hex()}"
    name, inputs = known
    values = abi_decode([artifacts.canonical_type(i) for i in inputs], payload)
    shown = ", ".join(_show(v) for v in values)
    return f"{name}({shown})"


def _show(value: Any) -> str:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    return str(value)


async def _disconnect(w3: AsyncWeb3[Any]) -> None:
    """Close the provider's sessions, and the thread pool web3 7's session manager opens (for a lock) and never
    shuts down: one thread left behind per client otherwise. A private attribute: web3 is pinned below 8 in
    pyproject.toml, and tests/test_services.py's thread census fails if this stops closing it."""
    provider = w3.provider
    await provider.disconnect()
    if isinstance(provider, AsyncHTTPProvider):
        provider._request_session_manager.session_pool.shutdown(wait=False)
