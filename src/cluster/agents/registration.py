"""An agent's ERC-8004 registration file, and the URI its token points at.

With a public address configured (``hub.public_url``) the agentURI is Cluster's own
``/agents/{id}/registration.json`` (edits show at once, and the domain verifies itself through
``/.well-known/agent-registration.json``); without one it is the file itself as a ``data:`` URI, which works
offline and on any chain, and an edit is a ``setAgentURI`` with the new file."""

from __future__ import annotations

import base64
import json

from cluster.agents.models import AgentRow
from cluster.agents.protocol import Registration, RegistrationFile, Service


def agent_registry(chain_id: int, registry: str) -> str:
    """The agent's namespace, as ERC-8004 writes it: ``eip155:<chain id>:<IdentityRegistry>``."""
    return f"eip155:{chain_id}:{registry}"


def registration_file(row: AgentRow) -> RegistrationFile:
    registered = (
        []
        if row.agent_id is None
        else [Registration(agentId=row.agent_id, agentRegistry=agent_registry(row.chain_id, row.identity_registry))]
    )
    return RegistrationFile(
        name=row.name,
        description=row.description,
        services=[Service.model_validate(s) for s in row.services],
        x402Support=row.x402_support,
        active=row.active,
        registrations=registered,
    )


def served_uri(public_url: str | None, agent_pk: str) -> str | None:
    return f"{public_url.rstrip('/')}/agents/{agent_pk}/registration.json" if public_url else None


def data_uri(row: AgentRow) -> str:
    document = registration_file(row).model_dump(exclude_none=True)
    encoded = base64.b64encode(json.dumps(document, separators=(",", ":"), sort_keys=True).encode()).decode()
    return f"data:application/json;base64,{encoded}"


def agent_uri(row: AgentRow, public_url: str | None) -> str:
    return served_uri(public_url, row.id) or data_uri(row)
