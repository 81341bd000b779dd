"""Managed agents: Cluster registers each on the chain's IdentityRegistry from its operator key (so it can keep
the registration current), gives it a custodial wallet (the key wrapped by the service's master key, as dataset
keys are) and proves that wallet to the registry with the wallet's own EIP-712 signature. The account that
created the agent is its owner in Cluster; the NFT can be handed to the user's own wallet later."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from eth_account import Account
from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.agents.models import AgentRow
from cluster.agents.protocol import AgentCreate, AgentList, AgentObject, AgentUpdate, RegistrationFile
from cluster.agents.registration import agent_registry, agent_uri, registration_file, served_uri
from cluster.auth import Principal
from cluster.auth.times import aware
from cluster.chain.client import ChainClient
from cluster.chain.erc8004 import MAX_WALLET_DEADLINE, IdentityRegistry, agent_wallet_message, sign_agent_wallet
from cluster.errors import NotFound
from cluster.storage.encryption import KeyWrapper

WALLET_DEADLINE = MAX_WALLET_DEADLINE - 60  # ahead of the chain's clock, with room for a slow block


class Agents:
    def __init__(
        self, engine: AsyncEngine, operator: ChainClient, identity: str, keys: KeyWrapper, public_url: str | None
    ) -> None:
        self._engine = engine
        self._operator = operator
        self._identity = IdentityRegistry(operator, identity)
        self._keys = keys
        self._public_url = public_url

    @property
    def operator(self) -> str:
        assert self._operator.signer is not None
        return self._operator.signer.address

    async def create(self, caller: Principal, request: AgentCreate) -> AgentObject:
        """Register the agent, give it a wallet and prove the wallet, then point its URI at its file."""
        pk = f"agt_{uuid.uuid4().hex[:24]}"
        wallet = Account.create()
        master, wrapped = self._keys.wrap(bytes(wallet.key), pk)
        now = datetime.now(UTC)
        row = AgentRow(
            id=pk,
            user_id=caller.user_id,
            chain_id=self._operator.chain_id,
            identity_registry=self._identity.address.lower(),
            agent_id=None,
            name=request.name,
            description=request.description,
            services=[s.model_dump(exclude_none=True) for s in request.services],
            x402_support=request.x402_support,
            active=True,
            wallet=wallet.address.lower(),
            wallet_master=master,
            wallet_key=wrapped.hex(),
            owner=self.operator.lower(),
            created_at=now,
            updated_at=now,
        )
        async with self._engine.begin() as connection:  # first: a failure on chain leaves a row to see and retry
            await connection.execute(insert(AgentRow).values(**_columns(row)))
        served = served_uri(self._public_url, pk)
        agent_id, _ = await self._identity.register(served or "")
        row.agent_id = agent_id
        deadline = await self._chain_time() + WALLET_DEADLINE
        proof = agent_wallet_message(
            self._operator.chain_id, self._identity.address, agent_id, wallet.address, self.operator, deadline
        )
        await self._identity.set_agent_wallet(
            agent_id, wallet.address, deadline, sign_agent_wallet(proof, wallet.key.hex())
        )
        if served is None:
            await self._identity.set_agent_uri(agent_id, agent_uri(row, None))
        async with self._engine.begin() as connection:
            await connection.execute(update(AgentRow).where(AgentRow.id == pk).values(agent_id=agent_id))
        return self._object(row)

    async def update(self, caller: Principal, pk: str, change: AgentUpdate) -> AgentObject:
        row = await self._own(caller, pk)
        values: dict[str, Any] = change.model_dump(exclude_none=True)
        if "services" in values:
            values["services"] = [s.model_dump(exclude_none=True) for s in change.services or []]
        for key, value in values.items():
            setattr(row, key, value)
        row.updated_at = datetime.now(UTC)
        if row.agent_id is not None and self._public_url is None:  # the file is the URI: a new file, a new URI
            await self._identity.set_agent_uri(row.agent_id, agent_uri(row, None))
        async with self._engine.begin() as connection:
            await connection.execute(
                update(AgentRow).where(AgentRow.id == pk).values(**values, updated_at=row.updated_at)
            )
        return self._object(row)

    async def get(self, caller: Principal, pk: str) -> AgentObject:
        return self._object(await self._own(caller, pk))

    async def listing(self, caller: Principal) -> AgentList:
        async with self._engine.connect() as connection:
            rows = await connection.execute(
                select(AgentRow).where(AgentRow.user_id == caller.user_id).order_by(AgentRow.created_at.desc())
            )
            return AgentList(data=[self._object(_row(r)) for r in rows])

    async def registration(self, pk: str) -> RegistrationFile:
        """Public: what the agent's URI points at."""
        return registration_file(await self._find(pk))

    async def served(self) -> list[dict[str, Any]]:
        """Every registered agent whose file this server serves (domain verification)."""
        if self._public_url is None:
            return []
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(AgentRow).where(AgentRow.agent_id.is_not(None)))
            return [
                {"agentId": r.agent_id, "agentRegistry": agent_registry(r.chain_id, r.identity_registry)} for r in rows
            ]

    async def _own(self, caller: Principal, pk: str) -> AgentRow:
        row = await self._find(pk)
        if row.user_id != caller.user_id and not caller.is_admin:
            raise NotFound(f"no agent {pk!r}", param="agent")  # not yours: as if it did not exist
        return row

    async def _find(self, pk: str) -> AgentRow:
        async with self._engine.connect() as connection:
            found = (await connection.execute(select(AgentRow).where(AgentRow.id == pk))).one_or_none()
        if found is None:
            raise NotFound(f"no agent {pk!r}", param="agent")
        return _row(found)

    async def _chain_time(self) -> int:
        block = await self._operator.call(self._operator.w3.eth.get_block("latest"))
        return int(block["timestamp"])

    def _object(self, row: AgentRow) -> AgentObject:
        return AgentObject(
            id=row.id,
            agent_id=row.agent_id,
            agent_registry=agent_registry(row.chain_id, row.identity_registry),
            name=row.name,
            description=row.description,
            services=row.services,
            x402_support=row.x402_support,
            active=row.active,
            wallet=row.wallet,
            owner=row.owner,
            agent_uri=agent_uri(row, self._public_url),
            created_at=int(aware(row.created_at).timestamp()),
        )


def _columns(row: AgentRow) -> dict[str, Any]:
    return {column.name: getattr(row, column.name) for column in AgentRow.__table__.columns}


def _row(found: Any) -> AgentRow:
    return AgentRow(**found._mapping)
