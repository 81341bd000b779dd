"""Agents: create and manage ERC-8004 agents (registered on chain, custodial wallet proved to the registry), and
their public registration files (what each agent's URI points at) and the domain's list of them."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from cluster.agents.protocol import AgentCreate, AgentList, AgentObject, AgentUpdate, RegistrationFile
from cluster.api.deps import AgentsDep, Reader, Writer, agents_enabled

router = APIRouter(tags=["agents"], dependencies=[Depends(agents_enabled)])


@router.post("/v1/agents", response_model=AgentObject, status_code=201)
async def create(body: AgentCreate, caller: Writer, agents: AgentsDep) -> AgentObject:
    """Register a new agent on the chain's IdentityRegistry with a custodial wallet Cluster proves to it."""
    return await agents.create(caller, body)


@router.get("/v1/agents", response_model=AgentList)
async def listing(caller: Reader, agents: AgentsDep) -> AgentList:
    return await agents.listing(caller)


@router.get("/v1/agents/{agent}", response_model=AgentObject)
async def get(agent: str, caller: Reader, agents: AgentsDep) -> AgentObject:
    return await agents.get(caller, agent)


@router.patch("/v1/agents/{agent}", response_model=AgentObject)
async def edit(agent: str, body: AgentUpdate, caller: Writer, agents: AgentsDep) -> AgentObject:
    """Edit the registration; the agent's URI on chain follows (a new data: URI, or the served file changes)."""
    return await agents.update(caller, agent, body)


@router.get("/agents/{agent}/registration.json", response_model=RegistrationFile, response_model_exclude_none=True)
async def registration(agent: str, agents: AgentsDep) -> RegistrationFile:
    """ERC-8004's registration-v1 file (public)."""
    return await agents.registration(agent)


@router.get("/.well-known/agent-registration.json")
async def domain(agents: AgentsDep) -> dict[str, Any]:
    """ERC-8004 endpoint-domain verification: every agent whose file this domain serves."""
    return {"registrations": await agents.served()}
