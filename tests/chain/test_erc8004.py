"""The ERC-8004 registries (contracts/erc8004): the reference ABI's selectors and event topics, and the spec's
MUSTs, on the session anvil. Ids start at 0; the agent wallet is the owner at registration, changes only with the
new wallet's EIP-712 signature within 5 minutes, and is cleared by a transfer; owners cannot rate themselves and
summaries need chosen clients; only the named validator answers, 0..100."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from eth_utils import keccak

from cluster.chain.artifacts import load
from cluster.chain.erc8004 import AgentRegistries, agent_wallet_message, sign_agent_wallet
from cluster.errors import TransactionReverted
from tests.chain_fixtures import Chain

# Conformance vectors: selectors and topics of the reference registries (v2.0.0), from its published ABI.
SELECTORS = {
    "IdentityRegistry": {
        "register()": "1aa3a008",
        "register(string)": "f2c298be",
        "register(string,(string,bytes)[])": "8ea42286",
        "setAgentURI(uint256,string)": "0af28bd3",
        "getMetadata(uint256,string)": "cb4799f2",
        "setMetadata(uint256,string,bytes)": "466648da",
        "setAgentWallet(uint256,address,uint256,bytes)": "2d1ef5ae",
        "getAgentWallet(uint256)": "00339509",
        "unsetAgentWallet(uint256)": "3fddcf19",
        "isAuthorizedOrOwner(address,uint256)": "d95e72be",
    },
    "ReputationRegistry": {
        "giveFeedback(uint256,int128,uint8,string,string,string,string,bytes32)": "3c036a7e",
        "revokeFeedback(uint256,uint64)": "4ab3ca99",
        "appendResponse(uint256,address,uint64,string,bytes32)": "c2349ab2",
        "getSummary(uint256,address[],string,string)": "81bbba58",
        "readFeedback(uint256,address,uint64)": "232b0810",
        "readAllFeedback(uint256,address[],string,string,bool)": "d9d84224",
        "getClients(uint256)": "42dd519c",
        "getIdentityRegistry()": "bc4d861b",
    },
    "ValidationRegistry": {
        "validationRequest(address,uint256,string,bytes32)": "aaf400c4",
        "validationResponse(bytes32,uint8,string,bytes32,string)": "3d659a96",
        "getValidationStatus(bytes32)": "ff2febfc",
        "getSummary(uint256,address[],string)": "1b7cabd6",
    },
}
TOPICS = {
    "Registered(uint256,string,address)": "ca52e62c",
    "MetadataSet(uint256,string,string,bytes)": "2c149ed5",
    "URIUpdated(uint256,string,address)": "3a2c7fff",
    "NewFeedback(uint256,address,uint64,int128,uint8,string,string,string,string,string,bytes32)": "6a4a6174",
    "ValidationRequest(address,uint256,string,bytes32)": "530436c3",
    "ValidationResponse(address,uint256,bytes32,uint8,string,bytes32,string)": "afddf629",
}


def _signature(entry: dict[str, Any]) -> str:
    def kind(item: dict[str, Any]) -> str:
        if item["type"].startswith("tuple"):
            return "(" + ",".join(kind(c) for c in item["components"]) + ")" + item["type"][5:]
        return str(item["type"])

    return f"{entry['name']}({','.join(kind(i) for i in entry['inputs'])})"


def test_the_abi_matches_the_reference_selectors_and_topics() -> None:
    for contract, expected in SELECTORS.items():
        functions = {_signature(e) for e in load(contract).abi if e["type"] == "function"}
        for signature, selector in expected.items():
            assert signature in functions, f"{contract} lacks {signature}"
            assert keccak(text=signature)[:4].hex() == selector
    # clients read results by name too (viem/ethers): the reference's output names
    outputs = {
        e["name"]: [o["name"] for o in e["outputs"]] for e in load("ValidationRegistry").abi if e["type"] == "function"
    }
    assert outputs["getSummary"] == ["count", "avgResponse"]
    events = {_signature(e) for name in SELECTORS for e in load(name).abi if e["type"] == "event"}
    for signature, topic in TOPICS.items():
        assert signature in events and keccak(text=signature).hex().startswith(topic)


@dataclass
class Registries:
    chain: Chain
    identity: str
    reputation: str
    validation: str

    async def call(self, account: int, contract: str, function: str, *args: Any) -> Any:
        client = await self.chain.client(account)
        bound = client.contract(contract, getattr(self, contract.removesuffix("Registry").lower()))
        return await client.transact(bound.functions[function](*args))

    async def read(self, contract: str, function: str, *args: Any) -> Any:
        client = await self.chain.client(0)
        bound = client.contract(contract, getattr(self, contract.removesuffix("Registry").lower()))
        return await client.call(bound.functions[function](*args).call())

    async def reverts(self, reason: str, account: int, contract: str, function: str, *args: Any) -> None:
        with pytest.raises(TransactionReverted) as refused:
            await self.call(account, contract, function, *args)
        assert reason in refused.value.reason


@pytest.fixture
async def registries(chain: Chain) -> AsyncIterator[Registries]:
    """The registries the dev chain's deployment put there (inside this test's snapshot: no agent yet)."""
    found = chain.addresses
    assert found.identity_registry and found.reputation_registry and found.validation_registry
    assert (
        await (await chain.client(0)).call(
            (await chain.client(0))
            .contract("ReputationRegistry", found.reputation_registry)
            .functions.getIdentityRegistry()
            .call()
        )
        == found.identity_registry
    )
    yield Registries(chain, found.identity_registry, found.reputation_registry, found.validation_registry)


def _wallet_signature(chain: Chain, r: Registries, signer: int, agent: int, owner: int, deadline: int) -> bytes:
    """``signer``'s signature that account 5 becomes agent ``agent``'s wallet (5 itself, or a wrong signer)."""
    message = agent_wallet_message(chain.chain_id, r.identity, agent, chain.address(5), chain.address(owner), deadline)
    return sign_agent_wallet(message, chain.key(signer))


async def test_identity_registration_wallet_and_transfer(registries: Registries, chain: Chain) -> None:
    r, owner, other = registries, chain.address(1), chain.address(2)
    await r.call(1, "IdentityRegistry", "register", "data:application/json;base64,e30=")
    await r.call(1, "IdentityRegistry", "register")
    assert await r.read("IdentityRegistry", "ownerOf", 0) == owner  # ids start at 0
    assert await r.read("IdentityRegistry", "tokenURI", 0) == "data:application/json;base64,e30="
    assert await r.read("IdentityRegistry", "getAgentWallet", 0) == owner  # the registrant, to begin with
    assert await r.read("IdentityRegistry", "name") == "AgentIdentity"
    await r.reverts("reserved key", 1, "IdentityRegistry", "register", "x", [("agentWallet", b"\x01" * 20)])
    await r.call(1, "IdentityRegistry", "register", "x", [("skills", b"summarize")])
    assert await r.read("IdentityRegistry", "getMetadata", 2, "skills") == b"summarize"
    await r.reverts("reserved key", 1, "IdentityRegistry", "setMetadata", 2, "agentWallet", b"")
    await r.reverts("Not authorized", 2, "IdentityRegistry", "setAgentURI", 0, "ipfs://elsewhere")
    await r.call(1, "IdentityRegistry", "setAgentURI", 0, "ipfs://moved")
    assert await r.read("IdentityRegistry", "tokenURI", 0) == "ipfs://moved"

    now = await chain.now()
    deadline = now + 120
    good = _wallet_signature(chain, r, 5, 0, 1, deadline)
    await r.reverts("invalid wallet sig", 1, "IdentityRegistry", "setAgentWallet", 0, chain.address(5), deadline,
                    _wallet_signature(chain, r, 6, 0, 1, deadline))  # fmt: skip
    too_far = now + 3600
    await r.reverts("deadline too far", 1, "IdentityRegistry", "setAgentWallet", 0, chain.address(5), too_far,
                    _wallet_signature(chain, r, 5, 0, 1, too_far))  # fmt: skip
    await r.reverts("Not authorized", 2, "IdentityRegistry", "setAgentWallet", 0, chain.address(5), deadline, good)
    await r.call(1, "IdentityRegistry", "setAgentWallet", 0, chain.address(5), deadline, good)
    assert await r.read("IdentityRegistry", "getAgentWallet", 0) == chain.address(5)

    await r.call(1, "IdentityRegistry", "transferFrom", owner, other, 0)
    assert await r.read("IdentityRegistry", "getAgentWallet", 0) == "0x" + "00" * 20  # cleared for the new owner
    await r.call(2, "IdentityRegistry", "unsetAgentWallet", 0)
    assert await r.read("IdentityRegistry", "isAuthorizedOrOwner", other, 0)
    assert not await r.read("IdentityRegistry", "isAuthorizedOrOwner", owner, 0)


async def test_reputation_feedback_summary_and_responses(registries: Registries, chain: Chain) -> None:
    r = registries
    await r.call(1, "IdentityRegistry", "register", "ipfs://agent")
    feedback = ("successRate", "day", "https://cluster.test/v1", "ipfs://f", b"\x11" * 32)
    await r.reverts("Self-feedback not allowed", 1, "ReputationRegistry", "giveFeedback", 0, 90, 0, *feedback)
    await r.call(2, "ReputationRegistry", "giveFeedback", 0, 90, 0, *feedback)
    await r.call(2, "ReputationRegistry", "giveFeedback", 0, 8000, 2, *feedback)  # 80.00
    await r.call(3, "ReputationRegistry", "giveFeedback", 0, 70, 0, *feedback)
    await r.call(3, "ReputationRegistry", "giveFeedback", 0, -5, 0, "other", "", "", "", b"\x00" * 32)
    assert await r.read("ReputationRegistry", "getLastIndex", 0, chain.address(2)) == 2  # 1-based per client
    assert await r.read("ReputationRegistry", "getClients", 0) == [chain.address(2), chain.address(3)]
    assert await r.read("ReputationRegistry", "readFeedback", 0, chain.address(2), 2) == [
        8000,
        2,
        "successRate",
        "day",
        False,
    ]
    with pytest.raises(TransactionReverted, match="clientAddresses required"):
        await r.read("ReputationRegistry", "getSummary", 0, [], "", "")
    clients = [chain.address(2), chain.address(3)]
    # (90 + 80 + 70) / 3 = 80, in the decimals most values used (0: two of three)
    assert await r.read("ReputationRegistry", "getSummary", 0, clients, "successRate", "") == [3, 80, 0]
    await r.call(3, "ReputationRegistry", "revokeFeedback", 0, 1)
    await r.reverts("Already revoked", 3, "ReputationRegistry", "revokeFeedback", 0, 1)
    # 90 and 80.00 left: a tie of decimals goes to the fewer (ours; the spec says only "the mode")
    assert await r.read("ReputationRegistry", "getSummary", 0, clients, "successRate", "") == [2, 85, 0]
    everything = await r.read("ReputationRegistry", "readAllFeedback", 0, [], "", "", True)
    assert everything[1] == [1, 2, 1, 2] and everything[6] == [False, False, True, False]
    await r.reverts("Empty URI", 1, "ReputationRegistry", "appendResponse", 0, chain.address(2), 1, "", b"\x00" * 32)
    await r.call(1, "ReputationRegistry", "appendResponse", 0, chain.address(2), 1, "ipfs://refund", b"\x00" * 32)
    assert await r.read("ReputationRegistry", "getResponseCount", 0, chain.address(2), 1, []) == 1
    with pytest.raises(TransactionReverted):  # no such agent
        await r.call(2, "ReputationRegistry", "giveFeedback", 7, 1, 0, *feedback)


async def test_validation_only_the_named_validator_answers(registries: Registries, chain: Chain) -> None:
    r, validator = registries, chain.address(4)
    await r.call(1, "IdentityRegistry", "register", "ipfs://agent")
    request = keccak(text="trace root")
    await r.reverts("Not authorized", 2, "ValidationRegistry", "validationRequest", validator, 0, "ipfs://req", request)
    await r.call(1, "ValidationRegistry", "validationRequest", validator, 0, "ipfs://req", request)
    await r.reverts("exists", 1, "ValidationRegistry", "validationRequest", validator, 0, "ipfs://req", request)
    await r.reverts("not validator", 2, "ValidationRegistry", "validationResponse", request, 100, "", b"\x00" * 32, "")
    await r.reverts("resp>100", 4, "ValidationRegistry", "validationResponse", request, 101, "", b"\x00" * 32, "")
    assert await r.read("ValidationRegistry", "getSummary", 0, [], "") == [0, 0]  # asked, not answered
    await r.call(4, "ValidationRegistry", "validationResponse", request, 40, "ipfs://soft", b"\x01" * 32, "soft")
    await r.call(4, "ValidationRegistry", "validationResponse", request, 100, "ipfs://hard", b"\x02" * 32, "hard")
    status = await r.read("ValidationRegistry", "getValidationStatus", request)
    assert status[:5] == [validator, 0, 100, b"\x02" * 32, "hard"]
    assert await r.read("ValidationRegistry", "getSummary", 0, [validator], "hard") == [1, 100]
    assert await r.read("ValidationRegistry", "getAgentValidations", 0) == [request]
    with pytest.raises(TransactionReverted, match="unknown"):
        await r.read("ValidationRegistry", "getValidationStatus", b"\x09" * 32)


async def test_the_python_bindings_register_prove_a_wallet_and_summarize(registries: Registries, chain: Chain) -> None:
    owner, client = await chain.client(1), await chain.client(2)
    mine = AgentRegistries.of(owner, registries.identity, registries.reputation, registries.validation)
    agent_id, _ = await mine.identity.register("ipfs://planner", {"role": b"planner"})
    assert agent_id == 0 and await mine.identity.metadata(agent_id, "role") == b"planner"
    deadline = await chain.now() + 60
    message = agent_wallet_message(
        chain.chain_id, registries.identity, agent_id, chain.address(6), chain.address(1), deadline
    )
    await mine.identity.set_agent_wallet(agent_id, chain.address(6), deadline, sign_agent_wallet(message, chain.key(6)))
    assert await mine.identity.agent_wallet(agent_id) == chain.address(6)
    theirs = AgentRegistries.of(client, registries.identity, registries.reputation, registries.validation)
    assert theirs.reputation is not None
    await theirs.reputation.give_feedback(agent_id, 9977, 2, "uptime")
    summary = await theirs.reputation.summary(agent_id, [chain.address(2)], "uptime")
    assert (summary.count, summary.value, summary.decimals) == (1, 9977, 2)


async def test_a_receiver_that_passes_the_agent_on_at_once_leaves_no_stale_wallet(
    registries: Registries, chain: Chain
) -> None:
    """onERC721Received runs after the registration is complete: the hand-over inside it is an ordinary transfer,
    which clears the wallet (it once left the registrant's wallet on the new owner's agent)."""
    client = await chain.client(1)
    receiver = (await client.deploy("ReentrantReceiver", chain.address(2))).contract_address
    assert receiver
    await client.transact(client.contract("ReentrantReceiver", receiver).functions.registerAndPass(registries.identity))
    assert await registries.read("IdentityRegistry", "ownerOf", 0) == chain.address(2)
    assert await registries.read("IdentityRegistry", "getAgentWallet", 0) == "0x" + "00" * 20


async def test_registration_events_come_in_the_reference_order(registries: Registries, chain: Chain) -> None:
    client = await chain.client(1)
    identity = client.contract("IdentityRegistry", registries.identity)
    receipt = await client.transact(identity.functions.register("ipfs://a", [("role", b"x")]))
    topics = [bytes(log["topics"][0]) for log in receipt.raw["logs"]]
    names = ["Transfer(address,address,uint256)", "MetadataUpdate(uint256)", "Registered(uint256,string,address)",
             "MetadataSet(uint256,string,string,bytes)", "MetadataSet(uint256,string,string,bytes)"]  # fmt: skip
    assert topics == [keccak(text=name) for name in names]


async def test_response_counts_take_the_specs_wildcards(registries: Registries, chain: Chain) -> None:
    r, empty = registries, b"\x00" * 32
    await r.call(1, "IdentityRegistry", "register", "ipfs://agent")
    for client in (2, 3):
        await r.call(client, "ReputationRegistry", "giveFeedback", 0, 1, 0, "", "", "", "", empty)
        await r.call(client, "ReputationRegistry", "giveFeedback", 0, 1, 0, "", "", "", "", empty)
    await r.call(1, "ReputationRegistry", "appendResponse", 0, chain.address(2), 1, "ipfs://r", empty)
    await r.call(1, "ReputationRegistry", "appendResponse", 0, chain.address(2), 2, "ipfs://r", empty)
    await r.call(4, "ReputationRegistry", "appendResponse", 0, chain.address(3), 1, "ipfs://r", empty)
    count = "getResponseCount"
    assert await r.read("ReputationRegistry", count, 0, chain.address(2), 1, []) == 1
    assert await r.read("ReputationRegistry", count, 0, chain.address(2), 0, []) == 2  # all of client 2's feedback
    assert await r.read("ReputationRegistry", count, 0, "0x" + "00" * 20, 0, []) == 3  # all feedback on the agent
    assert await r.read("ReputationRegistry", count, 0, "0x" + "00" * 20, 0, [chain.address(4)]) == 1
