"""The service's own chain account: local signing (eth-account over coincurve) and nonce management."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import AsyncWeb3
from web3.exceptions import Web3RPCError


class Signer:
    """Signs and numbers the service's transactions.

    Nonces are handed out from a local counter under a lock, so concurrent sends from one process never
    reuse a nonce or wait on a round trip; the counter is re-read from the node (pending) at first use and
    after any failed send, which is when it can have drifted.
    """

    def __init__(self, w3: AsyncWeb3[Any], private_key: str) -> None:
        self._w3 = w3
        self.account: LocalAccount = Account.from_key(private_key)
        self._next_nonce: int | None = None
        self._lock = asyncio.Lock()

    @property
    def address(self) -> str:
        return str(self.account.address)

    async def send(self, tx: dict[str, Any]) -> bytes:
        """Fill in the nonce, sign and broadcast ``tx``; returns the transaction hash.

        A "nonce too low" (someone else used this key) re-reads the nonce and tries once more.
        """
        async with self._lock:
            for attempt in (1, 2):
                if self._next_nonce is None:
                    self._next_nonce = await self._w3.eth.get_transaction_count(self.account.address, "pending")
                signed = self.account.sign_transaction({**tx, "nonce": self._next_nonce})
                try:
                    tx_hash = await self._w3.eth.send_raw_transaction(signed.raw_transaction)
                except Web3RPCError as error:
                    self._next_nonce = None
                    if attempt == 1 and "nonce too low" in str(error).lower():
                        continue
                    raise
                except Exception:
                    self._next_nonce = None
                    raise
                self._next_nonce += 1
                return bytes(tx_hash)
        raise AssertionError("unreachable")

    async def send_raw(self, build: Callable[[int], bytes], submit: Callable[[bytes], Awaitable[Any]]) -> None:
        """Build a signed raw transaction for the next nonce (``build(nonce)``) and ``submit`` it, sharing the
        counter with ``send``; the same one retry on "nonce too low"."""
        async with self._lock:
            for attempt in (1, 2):
                if self._next_nonce is None:
                    self._next_nonce = await self._w3.eth.get_transaction_count(self.account.address, "pending")
                try:
                    await submit(build(self._next_nonce))
                except Exception as error:
                    self._next_nonce = None
                    if attempt == 1 and "nonce too low" in str(error).lower():
                        continue
                    raise
                self._next_nonce += 1
                return
