"""USDC ``transferWithAuthorization`` on the request path (x402): simulate and submit with pre-encoded
calldata, locally signed EIP-1559 transactions (coincurve, ~35 µs a signature) and cached fees, over bare
JSON-RPC. Same contract call and revert reasons as ``contracts.Usdc``; a fraction of the Python per call."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

import rlp  # type: ignore[import-untyped]
from coincurve import PrivateKey
from eth_abi.abi import encode as abi_encode
from eth_utils.abi import function_signature_to_4byte_selector

from cluster.chain.contracts import TransferAuthorization
from cluster.chain.eip3009 import keccak
from cluster.chain.rpc import JsonRpc
from cluster.chain.signer import Signer
from cluster.errors import TransactionReverted

_TRANSFER = function_signature_to_4byte_selector(
    "transferWithAuthorization(address,address,uint256,uint256,uint256,bytes32,bytes)"
)
_TYPES = ["address", "address", "uint256", "uint256", "uint256", "bytes32", "bytes"]
FEE_TTL = 2.0  # seconds a fee quote is reused (about a Base block)


_ERC20_TRANSFER = function_signature_to_4byte_selector("transfer(address,uint256)")


def erc20_transfer_calldata(to: str, amount: int) -> bytes:
    return _ERC20_TRANSFER + abi_encode(["address", "uint256"], [to, amount])


def transfer_calldata(auth: TransferAuthorization, signature: bytes) -> bytes:
    values = [auth.from_, auth.to, auth.value, auth.valid_after, auth.valid_before, auth.nonce, signature]
    return _TRANSFER + abi_encode(_TYPES, values)


def sign_eip1559(
    key: PrivateKey, *, chain_id: int, nonce: int, tip: int, max_fee: int, gas: int, to: str, data: bytes
) -> bytes:
    """A signed type-2 transaction, ready for ``eth_sendRawTransaction``."""
    fields: list[Any] = [chain_id, nonce, tip, max_fee, gas, bytes.fromhex(to[2:]), 0, data, []]
    unsigned = b"\x02" + bytes(rlp.encode(fields))
    signature = key.sign_recoverable(keccak(unsigned), hasher=None)  # libsecp256k1: already low-s
    r, s, v = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:64], "big"), signature[64]
    signed: bytes = rlp.encode([*fields, v, r, s])
    return b"\x02" + signed


class Transfers:
    def __init__(self, rpc: JsonRpc, usdc: str, chain_id: int, signer: Signer | None) -> None:
        self._rpc = rpc
        self._usdc = usdc
        self._chain_id = chain_id
        self._signer = signer
        self._key = PrivateKey(bytes(signer.account.key)) if signer else None
        self._fees: tuple[float, int, int] | None = None  # (fetched at, tip, max fee)

    async def simulate(self, auth: TransferAuthorization, signature: bytes, sender: str) -> None:
        """``eth_call`` the transfer as ``sender``: raises ``TransactionReverted`` with USDC's reason."""
        call = {"from": sender, "to": self._usdc, "data": "0x" + transfer_calldata(auth, signature).hex()}
        await self._rpc.call("eth_call", call, "latest")

    async def submit(self, auth: TransferAuthorization, signature: bytes, gas: int) -> dict[str, Any]:
        """Send the transfer from the service's signer and wait for its receipt; a revert raises with its reason."""
        return await self.send(self._usdc, transfer_calldata(auth, signature), gas)

    async def send(
        self, to: str, data: bytes, gas: int, before: Callable[[str, bytes], Awaitable[None]] | None = None
    ) -> dict[str, Any]:
        """Sign a call from the service's signer, give ``before(tx_hash, raw)`` the chance to record it, broadcast
        it, and wait for the receipt (a revert raises ``TransactionReverted`` with the reason)."""
        assert self._signer is not None and self._key is not None, "sending needs chain.signer_key"
        tip, max_fee = await self._fee()
        sent: dict[str, str] = {}

        def build(nonce: int) -> bytes:
            assert self._key is not None
            return sign_eip1559(
                self._key, chain_id=self._chain_id, nonce=nonce, tip=tip, max_fee=max_fee, gas=gas, to=to, data=data
            )

        async def submit(raw: bytes) -> None:
            if before is not None:
                await before("0x" + keccak(raw).hex(), raw)
            sent["hash"] = await self._rpc.call("eth_sendRawTransaction", "0x" + raw.hex())

        await self._signer.send_raw(build, submit)
        receipt = await self._rpc.receipt(sent["hash"])
        if int(receipt["status"], 16) != 1:
            call = {"from": self._signer.address, "to": to, "data": "0x" + data.hex()}
            try:
                await self._rpc.call("eth_call", call, receipt["blockNumber"])
            except TransactionReverted as error:
                raise TransactionReverted(error.reason, tx_hash=sent["hash"]) from None
            raise TransactionReverted("reverted (no reason given)", tx_hash=sent["hash"])
        return receipt

    async def _fee(self) -> tuple[int, int]:
        now = time.monotonic()
        if self._fees is None or now - self._fees[0] > FEE_TTL:
            tip = int(await self._rpc.call("eth_maxPriorityFeePerGas"), 16)
            block = await self._rpc.call("eth_getBlockByNumber", "latest", False)
            base = int(block.get("baseFeePerGas", "0x0"), 16)
            self._fees = (now, tip, 2 * base + tip)  # room for the base fee to double before inclusion
        return self._fees[1], self._fees[2]
