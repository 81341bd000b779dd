"""The ERC-8004 registries from Python: typed calls over IdentityRegistry, ReputationRegistry and
ValidationRegistry (ours on the dev chain, or the canonical ones by address), and the agent wallet's EIP-712
proof (``AgentWalletSet``), which the *new* wallet signs to show it is controlled by whoever sets it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from eth_account import Account
from eth_account.messages import encode_typed_data

from cluster.chain.client import ChainClient, Receipt
from cluster.chain.contracts import _Bound, events_in

MAX_WALLET_DEADLINE = 300  # seconds ahead a setAgentWallet signature may expire (the spec's 5 minutes)


def agent_wallet_message(
    chain_id: int, registry: str, agent_id: int, new_wallet: str, owner: str, deadline: int
) -> dict[str, Any]:
    """The EIP-712 typed data the new agent wallet signs (domain ``ERC8004IdentityRegistry``/``1``)."""
    return {
        "types": {
            "EIP712Domain": [
                {"name": "name", "type": "string"},
                {"name": "version", "type": "string"},
                {"name": "chainId", "type": "uint256"},
                {"name": "verifyingContract", "type": "address"},
            ],
            "AgentWalletSet": [
                {"name": "agentId", "type": "uint256"},
                {"name": "newWallet", "type": "address"},
                {"name": "owner", "type": "address"},
                {"name": "deadline", "type": "uint256"},
            ],
        },
        "primaryType": "AgentWalletSet",
        "domain": {
            "name": "ERC8004IdentityRegistry",
            "version": "1",
            "chainId": chain_id,
            "verifyingContract": registry,
        },
        "message": {"agentId": agent_id, "newWallet": new_wallet, "owner": owner, "deadline": deadline},
    }


def sign_agent_wallet(message: dict[str, Any], wallet_key: str) -> bytes:
    return bytes(Account.sign_message(encode_typed_data(full_message=message), wallet_key).signature)


class IdentityRegistry(_Bound):
    artifact = "IdentityRegistry"

    async def register(self, agent_uri: str, metadata: dict[str, bytes] | None = None) -> tuple[int, Receipt]:
        """Register from the client's signer (it owns the agent, and is its wallet until set otherwise)."""
        entries = [(key, value) for key, value in (metadata or {}).items()]
        receipt = await (self._send("register", agent_uri, entries) if entries else self._send("register", agent_uri))
        (event,) = events_in(self.contract, "Registered", receipt)
        return int(event["args"]["agentId"]), receipt

    async def owner_of(self, agent_id: int) -> str:
        return str(await self._read("ownerOf", agent_id))

    async def agent_uri(self, agent_id: int) -> str:
        return str(await self._read("tokenURI", agent_id))

    async def set_agent_uri(self, agent_id: int, uri: str) -> Receipt:
        return await self._send("setAgentURI", agent_id, uri)

    async def agent_wallet(self, agent_id: int) -> str:
        return str(await self._read("getAgentWallet", agent_id))

    async def set_agent_wallet(self, agent_id: int, wallet: str, deadline: int, signature: bytes) -> Receipt:
        return await self._send("setAgentWallet", agent_id, wallet, deadline, signature)

    async def metadata(self, agent_id: int, key: str) -> bytes:
        return bytes(await self._read("getMetadata", agent_id, key))


@dataclass(frozen=True)
class Summary:
    count: int
    value: int
    decimals: int


class ReputationRegistry(_Bound):
    artifact = "ReputationRegistry"

    async def give_feedback(
        self,
        agent_id: int,
        value: int,
        decimals: int,
        tag1: str = "",
        tag2: str = "",
        endpoint: str = "",
        feedback_uri: str = "",
        feedback_hash: bytes = b"\x00" * 32,
    ) -> Receipt:
        return await self._send(
            "giveFeedback", agent_id, value, decimals, tag1, tag2, endpoint, feedback_uri, feedback_hash
        )

    async def summary(self, agent_id: int, clients: list[str], tag1: str = "", tag2: str = "") -> Summary:
        count, value, decimals = await self._read("getSummary", agent_id, clients, tag1, tag2)
        return Summary(int(count), int(value), int(decimals))


class ValidationRegistry(_Bound):
    artifact = "ValidationRegistry"

    async def request(self, validator: str, agent_id: int, request_uri: str, request_hash: bytes) -> Receipt:
        return await self._send("validationRequest", validator, agent_id, request_uri, request_hash)

    async def respond(
        self,
        request_hash: bytes,
        response: int,
        response_uri: str = "",
        response_hash: bytes = b"\x00" * 32,
        tag: str = "",
    ) -> Receipt:
        return await self._send("validationResponse", request_hash, response, response_uri, response_hash, tag)

    async def status(self, request_hash: bytes) -> tuple[str, int, int, bytes, str, int]:
        validator, agent_id, response, response_hash, tag, updated = await self._read(
            "getValidationStatus", request_hash
        )
        return str(validator), int(agent_id), int(response), bytes(response_hash), str(tag), int(updated)


@dataclass(frozen=True)
class AgentRegistries:
    """The three registries of one chain, bound to one client (None where a chain has none configured)."""

    identity: IdentityRegistry
    reputation: ReputationRegistry | None
    validation: ValidationRegistry | None

    @classmethod
    def of(cls, client: ChainClient, identity: str, reputation: str | None, validation: str | None) -> AgentRegistries:
        return cls(
            IdentityRegistry(client, identity),
            ReputationRegistry(client, reputation) if reputation else None,
            ValidationRegistry(client, validation) if validation else None,
        )
