"""x402 end to end on the dev chain: the official client pays, replays and races are refused, every bad
payment gets the spec's reason, a failed settlement ends the response, and v1 clients still work."""

from __future__ import annotations

import asyncio
import base64
import json

import pytest
from eth_account import Account
from sqlalchemy import select

from cluster.chain.devchain import dev_address, dev_key
from cluster.db import make_engine
from cluster.payments import reasons
from cluster.payments.models import X402PaymentRow
from tests.chain_fixtures import Chain
from tests.payments.conftest import BODY, CHAT, OTHER, PAYER, Gateway, settle_response, sign_payment


async def usdc_balance(chain: Chain, account: str) -> int:
    return await (await chain.contracts()).usdc.balance_of(account)


async def payments(gateway: Gateway) -> list[X402PaymentRow]:
    """The server's payment records, read on this test's own connection (the server runs its own loop)."""
    engine = make_engine(gateway.services.settings.resolved_database_url)
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(select(X402PaymentRow))).all())  # type: ignore[arg-type]
    finally:
        await engine.dispose()


async def test_no_key_and_no_payment_gets_402_with_the_price(gateway: Gateway) -> None:
    async with gateway.http() as http:
        response = await http.post(CHAT, json={**BODY, "max_tokens": 100})
    assert response.status_code == 402
    required = json.loads(base64.b64decode(response.headers["payment-required"]))
    (accepts,) = required["accepts"]
    assert (accepts["scheme"], accepts["network"]) == ("exact", f"eip155:{gateway.chain.chain_id}")
    assert accepts["asset"] == gateway.chain.addresses.usdc and accepts["payTo"] == gateway.chain.addresses.treasury
    assert accepts["extra"] == {"name": "USDC", "version": "2"}
    prompt_bytes_bound = int(accepts["amount"]) - 100 * 2  # output: 100 tokens at 2 micro-USDC each
    assert 0 < prompt_bytes_bound < 200
    body = response.json()
    assert body["x402Version"] == 1 and body["accepts"][0]["maxAmountRequired"] == accepts["amount"]
    assert required["resource"]["url"].endswith(CHAT)


async def test_the_official_x402_client_pays_a_streamed_completion(gateway: Gateway) -> None:
    from x402 import x402Client
    from x402.http.clients import x402HttpxClient
    from x402.mechanisms.evm.exact.register import register_exact_evm_client

    chain = gateway.chain
    client = register_exact_evm_client(x402Client(), Account.from_key(dev_key(PAYER)))
    # The client's own guard: it pays only assets it knows (real USDC on Base does not need this line).
    client.set_spend_controls(
        {"allowed_assets": [{"network": f"eip155:{chain.chain_id}", "asset": chain.addresses.usdc}]}
    )
    price = int((await gateway.quote({**BODY, "stream": True}))["amount"])
    payer_before = await usdc_balance(chain, dev_address(PAYER))
    treasury_before = await usdc_balance(chain, chain.addresses.treasury)

    async with (
        x402HttpxClient(client, base_url=gateway.url, timeout=30) as http,
        http.stream("POST", CHAT, json={**BODY, "stream": True}) as response,
    ):
        body = (await response.aread()).decode()
    assert response.status_code == 200, body
    assert body.rstrip().endswith("data: [DONE]")
    assert "chat.completion.chunk" in body
    trailer = next(line for line in body.splitlines() if line.startswith(": payment-response "))
    receipt = json.loads(base64.b64decode(trailer.split(" ", 2)[2]))
    assert receipt["success"] and receipt["transaction"].startswith("0x")

    assert await usdc_balance(chain, dev_address(PAYER)) == payer_before - price
    assert await usdc_balance(chain, chain.addresses.treasury) == treasury_before + price
    (row,) = await payments(gateway)
    assert (row.status, row.value, row.payer) == ("settled", price, dev_address(PAYER).lower())
    assert row.tx_hash == receipt["transaction"] and row.cost is not None and 0 < row.cost <= price


async def test_a_non_streamed_payment_reports_what_it_charged_and_credits_the_rest(gateway: Gateway) -> None:
    accepts = await gateway.quote()
    async with gateway.http() as http:
        response = await http.post(CHAT, json=BODY, headers={"PAYMENT-SIGNATURE": sign_payment(gateway.chain, accepts)})
    assert response.status_code == 200, response.text
    receipt = settle_response(response)
    extra = receipt["extra"]
    assert receipt["success"] and receipt["payer"].lower() == dev_address(PAYER).lower()
    assert extra["paid"] == int(accepts["amount"]) == extra["charged"] + extra["credited"]
    assert extra["credited"] > 0
    balance = await gateway.services.billing.balance(dev_address(PAYER).lower())
    assert balance.available == extra["credited"]
    audit = await gateway.services.billing.audit()
    assert audit["sum"] == 0 and audit["revenue"] == extra["charged"]
    metrics = gateway.services.request_log.metrics.exposition().decode()
    assert 'cluster_x402_total{op="verify",outcome="valid"}' in metrics
    assert 'cluster_x402_total{op="settle",outcome="success"}' in metrics
    assert 'cluster_x402_duration_seconds_count{op="settle"}' in metrics


async def test_replaying_a_payment_is_refused(gateway: Gateway) -> None:
    header = sign_payment(gateway.chain, await gateway.quote())
    async with gateway.http() as http:
        first = await http.post(CHAT, json=BODY, headers={"PAYMENT-SIGNATURE": header})
        again = await http.post(CHAT, json=BODY, headers={"PAYMENT-SIGNATURE": header})
    assert first.status_code == 200
    assert again.status_code == 402 and again.json()["error"] == reasons.NONCE_ALREADY_USED
    assert "payment-required" in again.headers


async def test_fifty_concurrent_requests_on_one_authorization_are_served_once(gateway: Gateway) -> None:
    await served_once(gateway)


@pytest.mark.postgres
async def test_fifty_concurrent_requests_are_served_once_on_postgresql(pg_gateway: Gateway) -> None:
    await served_once(pg_gateway)


async def served_once(gateway: Gateway) -> None:
    header = sign_payment(gateway.chain, await gateway.quote())
    before = await usdc_balance(gateway.chain, dev_address(PAYER))
    async with gateway.http() as http:
        responses = await asyncio.gather(
            *(http.post(CHAT, json=BODY, headers={"PAYMENT-SIGNATURE": header}) for _ in range(50))
        )
    codes = sorted(r.status_code for r in responses)
    assert codes == [200] + [402] * 49, codes
    assert {r.json()["error"] for r in responses if r.status_code == 402} == {reasons.NONCE_ALREADY_USED}
    assert before - await usdc_balance(gateway.chain, dev_address(PAYER)) == int((await gateway.quote())["amount"])
    assert len(await payments(gateway)) == 1


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"authorization": {"validBefore": 1}}, reasons.VALID_BEFORE_EXPIRED),
        ({"authorization": {"validAfter": 4_000_000_000}}, reasons.VALID_AFTER_FUTURE),
        ({"underpay": 1}, reasons.VALUE_MISMATCH),
        ({"authorization": {"to": dev_address(OTHER)}}, reasons.RECIPIENT_MISMATCH),
        ({"network": "eip155:8453"}, reasons.NETWORK_MISMATCH),
        ({"signer": OTHER}, reasons.INVALID_SIGNATURE),
    ],
    ids=["expired", "not-yet-valid", "underpaid", "wrong-payTo", "wrong-chain", "bad-signature"],
)
async def test_bad_payments_get_402_with_the_spec_reason(gateway: Gateway, change: dict, reason: str) -> None:  # type: ignore[type-arg]
    accepts = await gateway.quote()
    change = dict(change)
    if underpay := change.pop("underpay", None):
        change["authorization"] = {"value": int(accepts["amount"]) - underpay}
    header = sign_payment(gateway.chain, accepts, **change)
    async with gateway.http() as http:
        response = await http.post(CHAT, json=BODY, headers={"PAYMENT-SIGNATURE": header})
    assert response.status_code == 402, response.text
    assert response.json()["error"] == reason
    required = json.loads(base64.b64decode(response.headers["payment-required"]))
    assert required["error"] == reason
    assert await payments(gateway) == []


async def test_a_malformed_payment_header_is_invalid_payload(gateway: Gateway) -> None:
    async with gateway.http() as http:
        for header in (
            "not base64!",
            base64.b64encode(b"[1]").decode(),
            base64.b64encode(b'{"x402Version": 2}').decode(),
        ):
            response = await http.post(CHAT, json=BODY, headers={"PAYMENT-SIGNATURE": header})
            assert response.status_code == 402 and response.json()["error"] == reasons.INVALID_PAYLOAD


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
async def test_a_payer_drained_before_settlement_gets_a_payment_error(gateway: Gateway, stream: bool) -> None:
    chain = gateway.chain
    facilitator = gateway.services.x402.facilitator
    real_settle = facilitator.settle

    async def drain_then_settle(payload, requirements):  # type: ignore[no-untyped-def]
        from cluster.chain.client import ChainClient
        from cluster.chain.contracts import Usdc

        payer = await ChainClient.connect(chain.node.url, signer_key=dev_key(PAYER))
        usdc = Usdc(payer, chain.addresses.usdc)
        await usdc.transfer(dev_address(OTHER), await usdc.balance_of(dev_address(PAYER)))
        await payer.close()
        return await real_settle(payload, requirements)

    facilitator.settle = drain_then_settle
    body = {**BODY, "stream": stream}
    header = sign_payment(chain, await gateway.quote(body))
    async with gateway.http() as http:
        response = await http.post(CHAT, json=body, headers={"PAYMENT-SIGNATURE": header})
    if stream:
        assert response.status_code == 200  # the headers left before settlement finished
        events = [line for line in response.text.splitlines() if line.startswith("data: ")]
        error = json.loads(events[-2].removeprefix("data: "))["error"]
        assert error["code"] == reasons.INSUFFICIENT_BALANCE and events[-1] == "data: [DONE]"
    else:
        assert response.status_code == 402
        assert response.json()["error"] == reasons.INSUFFICIENT_BALANCE
        assert "payment-response" not in response.headers
    (row,) = await payments(gateway)
    assert (row.status, row.error, row.cost) == ("failed", reasons.INSUFFICIENT_BALANCE, None)
    assert (await gateway.services.billing.balance(dev_address(PAYER).lower())).available == 0
    assert (await gateway.services.billing.audit())["revenue"] == 0, "nothing was recorded as paid"


async def test_a_v1_client_pays_with_x_payment(gateway: Gateway) -> None:
    """v1 on the wire: requirements from the JSON body, the payment in X-PAYMENT, the answer in
    X-PAYMENT-RESPONSE. (The dev chain has no v1 network name, so its CAIP-2 id stands in.)"""
    from x402.schemas.v1 import PaymentRequiredV1

    async with gateway.http() as http:
        required = PaymentRequiredV1.model_validate((await http.post(CHAT, json=BODY)).json())
        (accepts,) = required.accepts
        assert accepts.network == f"eip155:{gateway.chain.chain_id}"
        v2_shape = {
            "payTo": accepts.pay_to,
            "amount": accepts.max_amount_required,
            "asset": accepts.asset,
            "extra": accepts.extra,
        }
        header = sign_payment(gateway.chain, v2_shape, version=1, network=accepts.network)
        response = await http.post(CHAT, json=BODY, headers={"X-PAYMENT": header})
    assert response.status_code == 200, response.text
    receipt = json.loads(base64.b64decode(response.headers["x-payment-response"]))
    assert receipt["success"] and "payment-response" not in response.headers


async def test_the_official_v1_client_pays_on_a_chain_with_a_v1_name(tmp_path, mock_upstream) -> None:  # type: ignore[no-untyped-def]
    """A node with Base Sepolia's chain id (84532), so v1's legacy network name applies: the official v1 scheme
    reads the JSON body, signs, and pays with X-PAYMENT."""
    from x402 import x402Client
    from x402.http.utils import encode_payment_signature_header
    from x402.mechanisms.evm.exact.v1.client import ExactEvmSchemeV1
    from x402.schemas.v1 import PaymentRequiredV1

    from cluster.app import create_app
    from cluster.chain.devchain import DevChain
    from cluster.settings import DevChainSettings
    from tests.chain_fixtures import Node, free_port
    from tests.payments.conftest import paid_settings
    from tests.support import ServerThread

    devchain = DevChain(tmp_path / "sepolia", DevChainSettings(port=free_port(), chain_id=84532))
    deployment = await devchain.start()
    try:
        settings = paid_settings(tmp_path, Chain(Node(devchain.url, deployment, devchain)), mock_upstream)
        client = x402Client()
        client.register_v1("base-sepolia", ExactEvmSchemeV1(Account.from_key(dev_key(PAYER))))
        client.set_spend_controls({"allowed_assets": [{"network": "base-sepolia", "asset": deployment.addresses.usdc}]})
        with ServerThread(create_app(settings)) as server:
            async with httpx_client(server.url) as http:
                body = (await http.post(CHAT, json=BODY)).json()
                required = PaymentRequiredV1.model_validate(body)
                assert required.accepts[0].network == "base-sepolia"
                payload = await client.create_payment_payload(required)
                response = await http.post(
                    CHAT, json=BODY, headers={"X-PAYMENT": encode_payment_signature_header(payload)}
                )
        assert response.status_code == 200, response.text
        receipt = json.loads(base64.b64decode(response.headers["x-payment-response"]))
        assert receipt["success"] and receipt["network"] == "eip155:84532"
    finally:
        devchain.stop()


def httpx_client(url: str):  # type: ignore[no-untyped-def]
    import httpx

    return httpx.AsyncClient(base_url=url, timeout=30)


async def test_embeddings_are_paid_the_same_way(gateway: Gateway) -> None:
    body = {"model": "mock-embed", "input": ["one", "two"]}
    async with gateway.http() as http:
        quote = await http.post("/v1/embeddings", json=body)
        assert quote.status_code == 402
        accepts = json.loads(base64.b64decode(quote.headers["payment-required"]))["accepts"][0]
        response = await http.post(
            "/v1/embeddings", json=body, headers={"PAYMENT-SIGNATURE": sign_payment(gateway.chain, accepts)}
        )
    assert response.status_code == 200, response.text
    assert settle_response(response)["success"]
