"""The self-hosted x402 facilitator (the spec's HTTP API): ``/x402/supported``, ``/x402/verify``,
``/x402/settle``. Verifying is open; settling spends the service's gas, so it needs an admin key unless
``x402.public_settle`` is set."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request
from pydantic import ValidationError
from x402.schemas import PaymentPayload, PaymentRequirements, SettleResponse, SupportedResponse, VerifyResponse
from x402.schemas.v1 import PaymentPayloadV1, PaymentRequirementsV1

from cluster.api.access import principal
from cluster.api.deps import ServicesDep, X402Dep, x402_enabled
from cluster.auth import Scope
from cluster.errors import InvalidRequest
from cluster.payments import reasons, wire

router = APIRouter(prefix="/x402", tags=["x402"], dependencies=[Depends(x402_enabled)])


def _parse(body: dict[str, Any]) -> tuple[PaymentPayload, PaymentRequirements]:
    version = body.get("x402Version")
    try:
        if version == 1:
            return wire.upgrade_v1(
                PaymentPayloadV1.model_validate(body.get("paymentPayload")),
                PaymentRequirementsV1.model_validate(body.get("paymentRequirements")),
            )
        if version == 2:
            return (
                PaymentPayload.model_validate(body.get("paymentPayload")),
                PaymentRequirements.model_validate(body.get("paymentRequirements")),
            )
    except ValidationError as error:
        raise InvalidRequest(
            f"not an x402 request: {error.errors()[0]['msg']}", code=reasons.INVALID_PAYLOAD
        ) from error
    raise InvalidRequest("x402Version must be 1 or 2", param="x402Version", code=reasons.INVALID_VERSION)


@router.get("/supported", response_model=SupportedResponse, response_model_by_alias=True)
async def supported(x402: X402Dep) -> SupportedResponse:
    return x402.facilitator.supported()


@router.post("/verify", response_model=VerifyResponse, response_model_by_alias=True, response_model_exclude_none=True)
async def verify(x402: X402Dep, body: dict[str, Any] = Body(...)) -> VerifyResponse:
    payload, requirements = _parse(body)
    return await x402.facilitator.verify(payload, requirements)


@router.post("/settle", response_model=SettleResponse, response_model_by_alias=True, response_model_exclude_none=True)
async def settle(
    request: Request, x402: X402Dep, services: ServicesDep, body: dict[str, Any] = Body(...)
) -> SettleResponse:
    if not x402.settings.public_settle:
        await principal(services, request, Scope.ADMIN)
    payload, requirements = _parse(body)
    verdict = await x402.facilitator.verify(payload, requirements)
    if not verdict.is_valid:
        return SettleResponse(
            success=False,
            error_reason=verdict.invalid_reason,
            error_message=verdict.invalid_message,
            payer=verdict.payer,
            transaction="",
            network=requirements.network,
        )
    return await x402.facilitator.settle(payload, requirements)
