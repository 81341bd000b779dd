"""Managed agents end to end on the session anvil: registered on the IdentityRegistry by Cluster's operator, a
custodial wallet proved to the registry (the wallet's own EIP-712 signature), the registration file on chain as a
data: URI and served, edits followed on chain, the key kept only wrapped, and nobody else's agents visible."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from eth_account import Account
from sqlalchemy import select

from cluster.agents.models import AgentRow
from cluster.chain.devchain import dev_key
from cluster.chain.erc8004 import IdentityRegistry
from tests.chain_fixtures import Chain
from tests.conftest import make_settings, secured_app


def decoded(uri: str) -> dict[str, object]:
    prefix = "data:application/json;base64,"
    assert uri.startswith(prefix)
    return dict(json.loads(base64.b64decode(uri[len(prefix) :])))


async def test_an_agent_is_registered_with_a_proved_custodial_wallet(
    tmp_path: Path, chain: Chain, database_url: str
) -> None:
    settings = make_settings(
        tmp_path, database_url=database_url, auth={"required": True}, chain=chain.settings(),
        agents={"operator_key": dev_key(7)},
    )  # fmt: skip
    async for app in secured_app(settings):
        user, key = await app.new_user()
        auth = {"authorization": f"Bearer {key}"}
        services = [{"name": "A2A", "endpoint": "https://summarizer.example/card.json", "version": "0.3.0"}]
        body = {"name": "Summarizer", "description": "Summarizes datasets", "services": services}
        created = await app.http.post("/v1/agents", json=body, headers=auth)
        assert created.status_code == 201, created.text
        agent = created.json()
        identity = chain.addresses.identity_registry
        assert (
            identity
            and agent["agent_id"] == 0
            and agent["agent_registry"] == f"eip155:{chain.chain_id}:{identity.lower()}"
        )

        registry = IdentityRegistry(await chain.client(0), identity)
        assert await registry.owner_of(0) == chain.address(7)  # Cluster's operator holds managed agents
        assert (await registry.agent_wallet(0)).lower() == agent["wallet"] != chain.address(7).lower()
        on_chain = decoded(await registry.agent_uri(0))
        served = await app.http.get(f"/agents/{agent['id']}/registration.json")
        assert served.status_code == 200 and served.json() == on_chain == decoded(agent["agent_uri"])
        assert on_chain["type"] == "https://eips.ethereum.org/EIPS/eip-8004#registration-v1"
        assert on_chain["registrations"] == [{"agentId": 0, "agentRegistry": agent["agent_registry"]}]
        assert on_chain["services"] == services and on_chain["x402Support"] is True

        edited = await app.http.patch(f"/v1/agents/{agent['id']}", json={"name": "Summarizer v2"}, headers=auth)
        assert edited.status_code == 200, edited.text
        assert decoded(await registry.agent_uri(0))["name"] == "Summarizer v2"  # the URI on chain follows

        services_ = app.app.state.services  # type: ignore[attr-defined]
        async with services_.engine.connect() as connection:
            row = (await connection.execute(select(AgentRow))).one()
        wallet_key = services_.marketplace._keys.unwrap(row.wallet_master, bytes.fromhex(row.wallet_key), row.id)
        assert Account.from_key(wallet_key).address.lower() == agent["wallet"]  # kept only wrapped
        assert wallet_key.hex() not in row.wallet_key

        _, other = await app.new_user()
        stranger = {"authorization": f"Bearer {other}"}
        assert (await app.http.get(f"/v1/agents/{agent['id']}", headers=stranger)).status_code == 404
        assert (await app.http.get("/v1/agents", headers=stranger)).json()["data"] == []
        assert [a["id"] for a in (await app.http.get("/v1/agents", headers=auth)).json()["data"]] == [agent["id"]]
        refused = await app.http.post("/v1/agents", json={"name": ""}, headers=auth)
        assert refused.status_code == 400
        assert user


async def test_agents_are_off_without_a_chain(tmp_path: Path) -> None:
    async for app in secured_app(make_settings(tmp_path, auth={"required": True})):
        _, key = await app.new_user()
        answer = await app.http.get("/v1/agents", headers={"authorization": f"Bearer {key}"})
        assert answer.status_code == 404 and answer.json()["error"]["code"] == "feature_disabled"
