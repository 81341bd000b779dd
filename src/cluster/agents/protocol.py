"""Wire models of the agents API and the ERC-8004 registration file."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

REGISTRATION_TYPE = "https://eips.ethereum.org/EIPS/eip-8004#registration-v1"


class Service(BaseModel):
    """An endpoint of the agent (the spec's free-form `services[]`: web, A2A, MCP, DID, email, …)."""

    name: str = Field(min_length=1, max_length=64)
    endpoint: str = Field(min_length=1, max_length=2000)
    version: str | None = Field(None, max_length=64)


class AgentCreate(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str = Field("", max_length=10_000)
    services: list[Service] = Field(default_factory=list, max_length=32)
    x402_support: bool = Field(True, description="the agent pays and is paid with x402")


class AgentUpdate(BaseModel):
    name: str | None = Field(None, min_length=1, max_length=200)
    description: str | None = Field(None, max_length=10_000)
    services: list[Service] | None = Field(None, max_length=32)
    x402_support: bool | None = None
    active: bool | None = None


class Registration(BaseModel):
    agentId: int
    agentRegistry: str


class RegistrationFile(BaseModel):
    """ERC-8004's registration-v1 file: the agent's `agentURI` points at it."""

    type: str = REGISTRATION_TYPE
    name: str
    description: str
    image: str | None = None
    services: list[Service]
    x402Support: bool
    active: bool
    registrations: list[Registration]
    supportedTrust: list[str] = ["reputation"]


class AgentObject(BaseModel):
    object: Literal["agent"] = "agent"
    id: str
    agent_id: int | None = Field(description="the ERC-8004 agent id (the IdentityRegistry's token id)")
    agent_registry: str = Field(description="eip155:<chain id>:<IdentityRegistry>, the agent's global namespace")
    name: str
    description: str
    services: list[Service]
    x402_support: bool
    active: bool
    wallet: str = Field(description="the agent wallet (custodial: Cluster holds its key, wrapped)")
    owner: str = Field(description="who holds the agent's NFT")
    agent_uri: str
    created_at: int


class AgentList(BaseModel):
    object: Literal["list"] = "list"
    data: list[AgentObject]
