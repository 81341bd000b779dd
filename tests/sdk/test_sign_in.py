"""An agent with a wallet and no API key: the SDK signs in with Ethereum (SIWE) and calls the API with the
session it gets, like a key of its account."""

from __future__ import annotations

from pathlib import Path

import pytest

from cluster.app import create_app
from cluster.chain.devchain import dev_key
from cluster_sdk import AuthenticationError, Cluster, Wallet
from tests.conftest import make_settings
from tests.support import ServerThread


def test_an_agent_signs_in_with_its_wallet_and_uses_the_api(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, auth={"required": True}, local={"enabled": False}))
    with ServerThread(app) as server:
        wallet = Wallet(dev_key(4))
        token = wallet.sign_in(server.url)
        assert token.startswith("cs-")
        client = Cluster(base_url=server.url, api_key=token, max_retries=0)
        assert client.keys.list().data == []  # its own (new) account
        created = client.keys.create(name="for later")
        assert created.key.startswith("sk-cluster-")
        again = Wallet(dev_key(4)).sign_in(server.url)  # the same wallet: the same account, a new session
        assert again != token and Cluster(base_url=server.url, api_key=again).keys.list().data[0].name == "for later"
        with pytest.raises(AuthenticationError):
            Cluster(base_url=server.url, api_key="cs-" + "x" * 43, max_retries=0).keys.list()
