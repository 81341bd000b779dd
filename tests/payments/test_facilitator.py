"""The self-hosted facilitator speaks the spec's HTTP API: the official facilitator client works against it,
and a second gateway can use it as its remote facilitator."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from x402.http.facilitator_client import HTTPFacilitatorClient
from x402.http.facilitator_client_base import FacilitatorConfig
from x402.schemas import PaymentPayload, PaymentRequirements

from cluster.app import create_app
from cluster.chain.devchain import dev_address
from cluster.payments import reasons
from tests.chain_fixtures import Chain
from tests.payments.conftest import BODY, CHAT, PAYER, Gateway, paid_settings, settle_response, sign_payment
from tests.support import MockUpstream, ServerThread


class _Bearer:
    def __init__(self, key: str) -> None:
        self._key = key

    def get_auth_headers(self):  # type: ignore[no-untyped-def]
        from x402.http.facilitator_client_base import AuthHeaders

        header = {"Authorization": f"Bearer {self._key}"}
        return AuthHeaders(verify=header, settle=header, supported=header)


async def signed(gateway: Gateway, **change: object) -> tuple[PaymentPayload, PaymentRequirements]:
    accepts = await gateway.quote()
    payload = PaymentPayload.model_validate(
        json.loads(base64.b64decode(sign_payment(gateway.chain, accepts, **change)))
    )
    return payload, PaymentRequirements.model_validate(accepts)


async def test_the_official_facilitator_client_verifies_and_settles_here(gateway: Gateway) -> None:
    facilitator = HTTPFacilitatorClient({"url": f"{gateway.url}/x402"})
    supported = await asyncio.to_thread(facilitator.get_supported)
    assert {(k.x402_version, k.scheme, k.network) for k in supported.kinds} >= {
        (2, "exact", f"eip155:{gateway.chain.chain_id}")
    }
    assert supported.signers["eip155:*"] == [dev_address(0)]

    payload, requirements = await signed(gateway)
    verdict = await facilitator.verify(payload, requirements)
    assert verdict.is_valid and verdict.payer == dev_address(PAYER)
    overpaid = requirements.model_copy(update={"amount": str(int(requirements.amount) - 1)})
    strict = await facilitator.verify(payload, overpaid)
    assert (strict.is_valid, strict.invalid_reason) == (False, reasons.VALUE_MISMATCH), (
        "the spec wants the exact amount"
    )

    with pytest.raises(ValueError, match="401"):
        await facilitator.settle(payload, requirements)  # settling spends our gas: admins only
    admin = HTTPFacilitatorClient(
        FacilitatorConfig(url=f"{gateway.url}/x402", auth_provider=_Bearer(gateway.admin_key))
    )
    before = await (await gateway.chain.contracts()).usdc.balance_of(requirements.pay_to)
    settled = await admin.settle(payload, requirements)
    assert settled.success and settled.transaction.startswith("0x")
    assert await (await gateway.chain.contracts()).usdc.balance_of(requirements.pay_to) == before + int(
        requirements.amount
    )
    again = await admin.settle(payload, requirements)
    assert (again.success, again.error_reason) == (False, reasons.NONCE_ALREADY_USED)
    await facilitator.aclose()
    await admin.aclose()


async def test_bad_facilitator_requests_are_openai_shaped_400s(gateway: Gateway) -> None:
    async with gateway.http() as http:
        response = await http.post("/x402/verify", json={"x402Version": 3})
        assert response.status_code == 400 and response.json()["error"]["code"] == reasons.INVALID_VERSION
        response = await http.post("/x402/verify", json={"x402Version": 2, "paymentPayload": {}})
        assert response.status_code == 400 and response.json()["error"]["code"] == reasons.INVALID_PAYLOAD


async def test_a_gateway_can_use_another_as_its_remote_facilitator(
    gateway: Gateway, tmp_path: Path, chain: Chain, mock_upstream: MockUpstream
) -> None:
    settings = paid_settings(
        tmp_path / "edge",
        chain,
        mock_upstream,
        facilitator_url=f"{gateway.url}/x402",
        facilitator_key=gateway.admin_key,
    )
    with ServerThread(create_app(settings)) as edge:
        edge_gateway = Gateway(edge.url, edge, gateway.admin_key, chain)
        header = sign_payment(chain, await edge_gateway.quote())
        async with edge_gateway.http() as http:
            response = await http.post(CHAT, json=BODY, headers={"PAYMENT-SIGNATURE": header})
            replay = await http.post(CHAT, json=BODY, headers={"PAYMENT-SIGNATURE": header})
    assert response.status_code == 200, response.text
    assert settle_response(response)["success"]
    assert replay.status_code == 402 and replay.json()["error"] == reasons.NONCE_ALREADY_USED
