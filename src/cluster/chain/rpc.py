"""Bare JSON-RPC over one keep-alive aiohttp session, for the few calls on a request's path.

web3.py is the general client (deployments, admin transactions, the indexer); its middleware and formatters
cost a few milliseconds per call, which profiling showed to be most of x402's added latency. This module sends
pre-encoded calls and raw transactions and nothing else.
"""

from __future__ import annotations

import asyncio
import itertools
import time
from typing import Any

import aiohttp
import orjson

from cluster.chain.client import decode_revert
from cluster.errors import ChainUnavailable, ClusterError, TransactionReverted


class JsonRpc:
    def __init__(self, url: str) -> None:
        self.url = url
        self._session: aiohttp.ClientSession | None = None
        self._ids = itertools.count(1)

    async def call(self, method: str, *params: Any) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30))
        body = orjson.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params})
        try:
            async with self._session.post(
                self.url, data=body, headers={"content-type": "application/json"}
            ) as response:
                reply = orjson.loads(await response.read())
        except (aiohttp.ClientError, TimeoutError, orjson.JSONDecodeError) as error:
            raise ChainUnavailable(f"the chain node cannot be reached: {error}") from error
        if "error" in reply:
            raise _rpc_error(reply["error"])
        return reply["result"]

    async def receipt(self, tx_hash: str, within: float = 120.0) -> dict[str, Any]:
        """Poll for a receipt: at once, then backing off from 2 ms to 250 ms (a dev chain mines at once; Base
        every 2 s)."""
        delay, deadline = 0.002, time.monotonic() + within
        while True:
            receipt = await self.call("eth_getTransactionReceipt", tx_hash)
            if receipt is not None:
                return dict(receipt)
            if time.monotonic() > deadline:
                raise ChainUnavailable(f"transaction {tx_hash} not mined within {within} s")
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.25)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


def _rpc_error(error: dict[str, Any]) -> ClusterError:
    data = error.get("data")
    if isinstance(data, dict):  # some nodes nest it
        data = data.get("data")
    if isinstance(data, str) and data.startswith("0x") and len(data) >= 10:
        return TransactionReverted(decode_revert(bytes.fromhex(data[2:])))
    message = str(error.get("message", "error"))
    if "revert" in message.lower():
        return TransactionReverted(message.removeprefix("execution reverted: ").removeprefix("execution reverted"))
    return ClusterError(f"the chain node refused the request: {message}")
