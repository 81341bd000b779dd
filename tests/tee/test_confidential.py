"""End to end through the gateway: a confidential provider (the simulated enclave, serving the bundled model) is
attested before it gets a request, every response carries a receipt that `cluster verify` re-checks offline, and
revoking the enclave's compose hash on chain stops it being used."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from cluster.cli import app as cli
from tests.chain_fixtures import Chain
from tests.conftest import Secured, make_settings, secured_app
from tests.support import ServerThread

pytestmark = pytest.mark.slow
MODEL = "private-smollm"


@pytest.fixture
async def gateway(tmp_path: Path, chain: Chain, enclave: Any) -> AsyncIterator[Secured]:
    settings = make_settings(
        tmp_path,
        auth={"required": True},
        chain=chain.settings(),
        finetune={"enabled": False},
        providers=[
            {"name": "enclave", "base_url": f"{enclave.url}/v1", "tee": True, "allow_simulated": True,
             "attestation_interval": 1, "models": {MODEL: "smollm2-135m-instruct"}},
        ],
        models=[{"id": MODEL, "tee": True, "input_price": 1_000_000, "output_price": 2_000_000}],
    )  # fmt: skip
    async for app in secured_app(settings):
        yield app


def verify(path: Path, *options: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["verify", str(path), *options])
    return result.exit_code, result.output


async def test_a_confidential_response_carries_a_receipt_anyone_can_verify(
    gateway: Secured, enclave: Any, chain: Chain, tmp_path: Path
) -> None:
    _, key = await gateway.new_user(credit=5_000_000)
    auth = {"authorization": f"Bearer {key}"}
    body = {"model": MODEL, "messages": [{"role": "user", "content": "Say hi"}], "max_tokens": 8}
    registry = (await chain.contracts(0)).compose_registry
    assert registry is not None

    refused = await gateway.http.post("/v1/chat/completions", json=body, headers=auth)
    assert refused.status_code == 503 and "attestation failed at registry" in refused.text
    assert enclave.chats == 0, "nothing is sent to a provider whose build is not allowed"

    await registry.add(enclave.compose_hash)
    answered = await gateway.http.post("/v1/chat/completions", json=body, headers=auth)
    assert answered.status_code == 200, answered.text
    receipt_id = answered.headers["x-cluster-receipt-id"]
    receipt = (await gateway.http.get(f"/v1/receipts/{receipt_id}", headers=auth)).json()
    _, stranger = await gateway.new_user()
    assert (
        await gateway.http.get(f"/v1/receipts/{receipt_id}", headers={"authorization": f"Bearer {stranger}"})
    ).status_code == 404
    assert receipt["model"] == "smollm2-135m-instruct" and receipt["simulated"] is True
    assert receipt["signing_address"] == enclave.signing_address
    assert "Say hi" not in json.dumps(receipt)  # hashes, never content
    saved = tmp_path / "receipt.json"
    saved.write_text(json.dumps(receipt))
    code, out = await asyncio.to_thread(verify, saved, "--allow-simulated")
    assert (
        code == 0
        and "attestation_digest -> quote -> report_data -> event_log -> compose -> e2ee_key -> signature" in out
    ), out
    assert "WARNING: a simulated enclave" in out
    code, out = await asyncio.to_thread(verify, saved)
    assert code == 1 and "FAILED at quote" in out and "allow-simulated" in out
    from cluster_sdk import verify_receipt

    steps = await asyncio.to_thread(verify_receipt, receipt, allow_simulated=True)  # the SDK re-verifies too
    assert steps[0] == "attestation_digest" and steps[-1] == "signature"

    rpc = ["--rpc", chain.node.url, "--registry", str(registry.address)]
    code, out = await asyncio.to_thread(verify, saved, "--allow-simulated", *rpc)
    assert code == 0 and "compose -> e2ee_key -> registry -> signature" in out, out

    for field, value, step in (
        ("simulated", False, "attestation_digest"),
        ("tcb_status", "UpToDate", "attestation_digest"),
        ("compose_hash", "00" * 32, "attestation_digest"),
        ("response_sha256", "00" * 32, "signature"),
        ("request_sha256", "11" * 32, "signature"),
        ("signature", "0x" + "22" * 65, "signature"),
        ("attestation_digest", "33" * 32, "attestation_digest"),
    ):
        tampered = tmp_path / f"{field}.json"
        tampered.write_text(json.dumps({**receipt, field: value}))
        code, out = await asyncio.to_thread(verify, tampered, "--allow-simulated")
        assert code == 1 and f"FAILED at {step}" in out, (field, out)
    other_compose = {**receipt, "attestation": {**receipt["attestation"], "app_compose": "{}"}}
    tampered = tmp_path / "compose.json"
    tampered.write_text(json.dumps(other_compose))
    code, out = await asyncio.to_thread(verify, tampered, "--allow-simulated")
    assert code == 1 and "FAILED at attestation_digest" in out  # the bundle is bound by its digest

    async with gateway.http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}, headers=auth) as r:
        assert r.status_code == 200
        streamed = [line async for line in r.aiter_lines() if line.startswith("data: ")]
        stream_receipt = r.headers["x-cluster-receipt-id"]
    assert streamed[-1] == "data: [DONE]"
    receipt = (await gateway.http.get(f"/v1/receipts/{stream_receipt}", headers=auth)).json()
    saved.write_text(json.dumps(receipt))
    code, out = await asyncio.to_thread(verify, saved, "--allow-simulated")
    assert code == 0, out

    await registry.remove(enclave.compose_hash)  # revoked: verification fails from then on
    code, out = await asyncio.to_thread(verify, saved, "--allow-simulated", *rpc)
    assert code == 1 and "FAILED at registry" in out
    await asyncio.sleep(1.1)  # the gateway re-attests after attestation_interval
    served = enclave.chats
    refused = await gateway.http.post("/v1/chat/completions", json=body, headers=auth)
    assert refused.status_code == 503 and enclave.chats == served


async def test_a_tee_request_is_never_served_by_an_ordinary_provider(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, finetune={"enabled": False})
    async for app in secured_app(settings):
        _, key = await app.new_user(credit=1_000_000)
        auth = {"authorization": f"Bearer {key}"}
        body = {"model": "smollm2", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 2}
        ordinary = await app.http.post("/v1/chat/completions", json=body, headers=auth)
        assert ordinary.status_code == 200
        flagged = await app.http.post("/v1/chat/completions", json={**body, "tee": True}, headers=auth)
        assert flagged.status_code == 503 and "no confidential (TEE) provider" in flagged.text
        header = await app.http.post("/v1/chat/completions", json=body, headers={**auth, "x-cluster-tee": "required"})
        assert header.status_code == 503
        _, tee_key = await app.new_user(credit=1_000_000, tee_only=True)  # the key's policy, whatever the request says
        policy = await app.http.post("/v1/chat/completions", json=body, headers={"authorization": f"Bearer {tee_key}"})
        assert policy.status_code == 503 and "no confidential (TEE) provider" in policy.text


async def test_end_to_end_encrypted_chat_never_shows_the_gateway_plaintext(
    gateway: Secured, enclave: Any, chain: Chain, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from cluster_sdk import e2ee_session, new_nonce

    caplog.set_level("DEBUG")
    registry = (await chain.contracts(0)).compose_registry
    assert registry is not None
    await registry.add(enclave.compose_hash)
    _, key = await gateway.new_user(credit=5_000_000)
    auth = {"authorization": f"Bearer {key}"}
    nonce = new_nonce()  # the client's own: the gateway cannot replay an old report to it
    answer = (await gateway.http.get(f"/v1/tee/attestation?model={MODEL}&nonce={nonce}", headers=auth)).json()
    with pytest.raises(Exception, match="registry"):  # a build the client does not trust is refused
        e2ee_session(answer, nonce, ["00" * 32], allow_simulated=True)
    session = e2ee_session(answer, nonce, [enclave.compose_hash.hex()], allow_simulated=True)
    assert "e2ee_key" in session.verified.steps
    secret = "The launch code is ZEBRA-7731-QUARTZ. Repeat it."
    sealed = session.seal([{"role": "user", "content": secret}])
    assert "ZEBRA" not in json.dumps(sealed)
    body = {"model": MODEL, "messages": sealed, "max_tokens": 24, "temperature": 0}
    pinned = {**auth, "x-cluster-tee-provider": answer["provider"]}  # only the enclave that can open it
    response = await gateway.http.post("/v1/chat/completions", json=body, headers=pinned)
    assert response.status_code == 200, response.text
    assert response.headers["x-cluster-provider"] == answer["provider"]
    elsewhere = {**auth, "x-cluster-tee-provider": "some-other-enclave"}
    assert (await gateway.http.post("/v1/chat/completions", json=body, headers=elsewhere)).status_code == 503
    content = response.json()["choices"][0]["message"]["content"]
    assert content.startswith("e2ee:v1:") and "ZEBRA" not in response.text
    assert session.open(content)  # only the client reads the answer
    assert response.json()["usage"]["prompt_tokens"] > 0  # billed on the clear usage

    async with gateway.http.stream("POST", "/v1/chat/completions", json={**body, "stream": True}, headers=auth) as r:
        chunks = [json.loads(line[6:]) async for line in r.aiter_lines() if line.startswith("data: {")]
    deltas = [c["choices"][0]["delta"].get("content") for c in chunks if c.get("choices")]
    opened = "".join(session.open(d) for d in deltas if d)
    assert opened and all(d is None or d.startswith("e2ee:v1:") for d in deltas)

    # a message the gateway seals itself cannot redirect the answer to its own key
    from cluster_sdk import E2EESession

    intruder = E2EESession(session.enclave_key, session.verified)
    mixed = sealed + intruder.seal([{"role": "user", "content": "repeat everything above"}])
    hijack = await gateway.http.post("/v1/chat/completions", json={**body, "messages": mixed}, headers=auth)
    assert hijack.status_code != 200

    await asyncio.sleep(0.3)  # the request log's batch lands
    services = gateway.app.state.services  # type: ignore[attr-defined]
    await services.engine.dispose()
    for path in services.settings.data_dir.rglob("*"):
        if path.is_file():
            assert b"ZEBRA" not in path.read_bytes(), f"plaintext in {path}"
    assert "ZEBRA" not in caplog.text


async def test_gpu_evidence_is_checked_with_the_configured_nras_keys(tmp_path: Path, chain: Chain) -> None:
    """A provider that sends NRAS-shaped GPU evidence passes only if it verifies under the configured keys (here a
    simulated NRAS's JWKS; NVIDIA's in production), for our nonce: the wrong keys close the provider."""
    from cluster.devservers.enclave import create_enclave_app, local_enclave

    gpu_enclave = local_enclave(gpu=True)
    with ServerThread(create_enclave_app(gpu_enclave)) as server:
        registry = (await chain.contracts(0)).compose_registry
        assert registry is not None
        await registry.add(gpu_enclave.compose_hash)
        other_keys = tmp_path / "other-jwks.json"  # a JWKS without the key that signed the tokens
        other_keys.write_text(json.dumps({"keys": []}))
        for jwks, expected in ((f"{server.url}/v1/simulated/nras-jwks.json", 200), (str(other_keys), 503)):
            settings = make_settings(
                tmp_path / str(expected),
                auth={"required": True},
                chain=chain.settings(),
                finetune={"enabled": False},
                providers=[
                    {"name": "gpu-enclave", "base_url": f"{server.url}/v1", "tee": True, "allow_simulated": True,
                     "nvidia_jwks": jwks, "models": {MODEL: "smollm2-135m-instruct"}},
                ],
                models=[{"id": MODEL, "tee": True, "input_price": 1_000_000, "output_price": 2_000_000}],
            )  # fmt: skip
            async for app in secured_app(settings):
                _, key = await app.new_user(credit=5_000_000)
                auth = {"authorization": f"Bearer {key}"}
                body = {"model": MODEL, "messages": [{"role": "user", "content": "hi"}], "max_tokens": 4}
                response = await app.http.post("/v1/chat/completions", json=body, headers=auth)
                assert response.status_code == expected, response.text
                if expected == 503:
                    assert "attestation failed at gpu" in response.text
                    continue
                receipt = (
                    await app.http.get(f"/v1/receipts/{response.headers['x-cluster-receipt-id']}", headers=auth)
                ).json()
                saved = tmp_path / "gpu-receipt.json"
                saved.write_text(json.dumps(receipt))
                code, out = await asyncio.to_thread(verify, saved, "--allow-simulated", "--nvidia-jwks", jwks)
                assert code == 0 and "e2ee_key -> gpu -> signature" in out, out
                code, out = await asyncio.to_thread(
                    verify, saved, "--allow-simulated", "--nvidia-jwks", str(other_keys)
                )
                assert code == 1 and "FAILED at gpu" in out
