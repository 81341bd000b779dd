"""The chain layer's costs, measured in one run against a fresh embedded dev chain (anvil):

- EIP-3009 verifications per second on one core, our hand-packed digest + coincurve vs. eth-account's generic
  typed-data path (x402 verifies one of these per paid request);
- transactions per second from one signer, sequential vs. concurrent (the local nonce counter);
- indexer throughput: deposits indexed and credited per second, from scratch, on SQLite.

    .venv/bin/python bench/chain.py
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from eth_account import Account

from cluster.billing import BillingService
from cluster.chain.client import ChainClient
from cluster.chain.contracts import Contracts, TransferAuthorization
from cluster.chain.deposits import DepositBook
from cluster.chain.devchain import DevChain, dev_address, dev_key
from cluster.chain.eip3009 import _authorization_message, recover_authorization, sign_authorization, usdc_domain
from cluster.chain.indexer import Indexer
from cluster.db import make_engine, upgrade
from cluster.settings import BillingSettings, DevChainSettings


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def verifications_per_second(verify: Callable[[], object], seconds: float = 1.5) -> float:
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        verify()
        count += 1
    return count / (time.perf_counter() - start)


def verification_rates(domain: dict[str, Any]) -> tuple[float, float]:
    """x402's per-request work: EIP-712 digest of the authorization + signer recovery. Ours vs. eth-account's."""
    auth = TransferAuthorization(dev_address(2), dev_address(3), 10**6, 0, 2**40, os.urandom(32))
    signature = sign_authorization(dev_key(2), domain, auth)
    signer = dev_address(2)

    def ours() -> None:
        assert recover_authorization(domain, auth, signature) == signer.lower()

    def generic() -> None:
        message = _authorization_message(domain, auth, "TransferWithAuthorization")
        assert Account.recover_message(message, signature=signature) == signer

    return verifications_per_second(ours), verifications_per_second(generic, seconds=1.0)


async def tx_rate(contracts: Contracts, n: int, concurrent: bool) -> float:
    start = time.perf_counter()
    if concurrent:
        await asyncio.gather(*(contracts.usdc.transfer(dev_address(3), 1) for _ in range(n)))
    else:
        for _ in range(n):
            await contracts.usdc.transfer(dev_address(3), 1)
    return n / (time.perf_counter() - start)


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        devchain = DevChain(Path(tmp), DevChainSettings(port=free_port(), state_interval=3600))
        deployment = await devchain.start()
        try:
            domain = usdc_domain(deployment.chain_id, deployment.addresses.usdc)
            fast, generic = verification_rates(domain)
            print(
                f"EIP-3009 verify (EIP-712 digest + recover), 1 core: cluster.chain.eip3009 {fast:,.0f}/s, "
                f"eth-account {generic:,.0f}/s  ({fast / generic:.1f}x)"
            )

            client = await ChainClient.connect(devchain.url, signer_key=dev_key(2))
            contracts = Contracts(client, deployment.addresses)
            sequential = await tx_rate(contracts, 100, concurrent=False)
            concurrent = await tx_rate(contracts, 200, concurrent=True)
            print(
                f"transactions from one signer (anvil, automine): sequential {sequential:,.0f}/s, "
                f"concurrent {concurrent:,.0f}/s  ({concurrent / sequential:.1f}x)"
            )

            engine = make_engine(f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}")
            await upgrade(engine)
            billing = BillingService(engine, BillingSettings(sweep_interval=600))
            await billing.start()
            book = DepositBook(engine, billing, usdc=deployment.addresses.usdc, eth_price=None)
            refs = [bytes.fromhex((await book.reference_for(f"user-{i}"))[2:]) for i in range(20)]
            depositor = Contracts(await ChainClient.connect(devchain.url, signer_key=dev_key(4)), deployment.addresses)
            n = 400
            await depositor.usdc.approve(depositor.deposits.address, 10**12)
            await asyncio.gather(*(depositor.deposits.deposit(refs[i % 20], 1_000 + i) for i in range(n)))
            indexer = Indexer(engine, client, deployment.addresses, book, confirmations=0)
            start = time.perf_counter()
            await indexer.run_once()
            elapsed = time.perf_counter() - start
            total = sum([(await billing.balance(f"user-{i}")).available for i in range(20)])
            assert total == sum(1_000 + i for i in range(n)), total
            print(
                f"indexer from scratch (SQLite): {n} deposits read, stored and credited in {elapsed:.2f} s "
                f"= {n / elapsed:,.0f} deposits/s"
            )
            await billing.stop()
            await engine.dispose()
            await depositor.client.close()
            await client.close()
        finally:
            devchain.stop()


if __name__ == "__main__":
    asyncio.run(main())
