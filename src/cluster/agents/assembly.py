"""The agents domain, assembled: its own chain client signing as Cluster's operator (not the service's signer:
the registry forbids an agent's owner or operator to rate it, and the attestor that will rate agents is the
service's other key)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.agents.service import Agents
from cluster.chain.client import ChainClient
from cluster.chain.service import ChainService
from cluster.keyfile import load_or_create_secret
from cluster.settings import Settings
from cluster.storage.assembly import Storage

log = logging.getLogger("cluster.agents")
DEV_OPERATOR_GAS = 10**20  # wei the embedded chain gives the generated operator (100 ETH)


@asynccontextmanager
async def running(
    settings: Settings, engine: AsyncEngine, chain: ChainService | None, storage: Storage
) -> AsyncIterator[Agents | None]:
    identity = chain.contracts.addresses.identity_registry if chain else None
    if chain is None or not settings.agents.enabled or identity is None:
        yield None
        return
    configured = settings.agents.operator_key
    if configured is None and chain.devchain is None:
        log.warning("agents are off: set agents.operator_key (a funded key) to manage agents on this chain")
        yield None
        return
    key = (
        configured.get_secret_value()
        if configured
        else "0x" + load_or_create_secret(settings.data_dir / "agents_operator_key").hex()
    )
    operator = await ChainClient.connect(chain.client.rpc_url, signer_key=key)
    try:
        if configured is None and operator.signer is not None:  # the embedded dev chain: give it gas
            await operator.w3.provider.make_request(
                "anvil_setBalance", [operator.signer.address, hex(DEV_OPERATOR_GAS)]
            )
        yield Agents(engine, operator, identity, storage.keys, settings.hub.public_url)
    finally:
        await operator.close()
