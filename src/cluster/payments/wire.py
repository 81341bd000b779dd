"""x402 on the wire: header names, base64-JSON codecs, networks, and the `exact` EVM payload.

The protocol models are the official ``x402`` package's (v2 and v1); this module only adds what the package
leaves to the server: strict parsing of the scheme payload, and the mapping between CAIP-2 networks (v2) and
the legacy names v1 clients use.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator
from x402.schemas import PaymentPayload, PaymentRequirements
from x402.schemas.v1 import PaymentPayloadV1, PaymentRequirementsV1

from cluster.chain.contracts import TransferAuthorization

PAYMENT_REQUIRED = "PAYMENT-REQUIRED"
PAYMENT_SIGNATURE = "PAYMENT-SIGNATURE"
PAYMENT_RESPONSE = "PAYMENT-RESPONSE"
X_PAYMENT = "X-PAYMENT"  # v1
X_PAYMENT_RESPONSE = "X-PAYMENT-RESPONSE"  # v1
EXPOSE = "PAYMENT-REQUIRED, PAYMENT-RESPONSE, X-PAYMENT-RESPONSE"

# v1 clients name networks; v2 uses CAIP-2 (eip155:<chain id>).
V1_NAMES = {8453: "base", 84532: "base-sepolia", 1: "ethereum", 137: "polygon", 43114: "avalanche"}
V1_CHAIN_IDS = {name: chain_id for chain_id, name in V1_NAMES.items()}

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_BYTES32 = re.compile(r"^0x[0-9a-fA-F]{64}$")
_SIGNATURE = re.compile(r"^0x[0-9a-fA-F]+$")


class MalformedPayment(ValueError):
    """A payment header that is not base64 JSON of an x402 payload."""


def caip2(chain_id: int) -> str:
    return f"eip155:{chain_id}"


def v1_network(chain_id: int) -> str:
    return V1_NAMES.get(chain_id, caip2(chain_id))


def chain_id_of(network: str) -> int | None:
    if network.startswith("eip155:"):
        tail = network.removeprefix("eip155:")
        return int(tail) if tail.isdigit() else None
    return V1_CHAIN_IDS.get(network)


def encode(model: BaseModel) -> str:
    return base64.b64encode(model.model_dump_json(by_alias=True, exclude_none=True).encode()).decode()


def decode_payment(header: str) -> PaymentPayload | PaymentPayloadV1:
    """Parse a ``PAYMENT-SIGNATURE`` / ``X-PAYMENT`` value."""
    try:
        data = json.loads(base64.b64decode(header.strip(), validate=True))
        if not isinstance(data, dict):
            raise MalformedPayment("the payment header must hold a JSON object")
        if data.get("x402Version") == 1:
            return PaymentPayloadV1.model_validate(data)
        return PaymentPayload.model_validate(data)
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError, ValidationError) as error:
        raise MalformedPayment(f"the payment header is not a base64 JSON x402 payload: {error}") from error


class _Authorization(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from")
    to: str
    value: int = Field(ge=0, lt=2**256)
    valid_after: int = Field(alias="validAfter", ge=0, lt=2**256)
    valid_before: int = Field(alias="validBefore", ge=0, lt=2**256)
    nonce: str

    @field_validator("from_", "to")
    @classmethod
    def _address(cls, value: str) -> str:
        if not _ADDRESS.match(value):
            raise ValueError("not a 20-byte hex address")
        return value

    @field_validator("nonce")
    @classmethod
    def _bytes32(cls, value: str) -> str:
        if not _BYTES32.match(value):
            raise ValueError("not a 32-byte hex nonce")
        return value


class ExactPayload(BaseModel):
    """The `exact` scheme's EIP-3009 payload: ``{"authorization": {...}, "signature": "0x…"}``."""

    authorization: _Authorization
    signature: str

    @field_validator("signature")
    @classmethod
    def _hex(cls, value: str) -> str:
        if not _SIGNATURE.match(value) or len(value) % 2:
            raise ValueError("not a hex signature")
        return value

    @classmethod
    def parse(cls, payload: dict[str, Any]) -> ExactPayload:
        try:
            return cls.model_validate(payload)
        except ValidationError as error:
            raise MalformedPayment(f"not an exact EVM payload: {error.errors()[0]['msg']}") from error

    @property
    def transfer(self) -> TransferAuthorization:
        a = self.authorization
        return TransferAuthorization(a.from_, a.to, a.value, a.valid_after, a.valid_before, bytes.fromhex(a.nonce[2:]))

    @property
    def signature_bytes(self) -> bytes:
        return bytes.fromhex(self.signature[2:])

    @property
    def payer(self) -> str:
        return self.authorization.from_.lower()


def upgrade_v1(
    payload: PaymentPayloadV1, requirements: PaymentRequirementsV1
) -> tuple[PaymentPayload, PaymentRequirements]:
    """A v1 payload and requirements in v2 form (same scheme payload; CAIP-2 network; ``amount``)."""
    chain_id = chain_id_of(requirements.network)
    network = caip2(chain_id) if chain_id is not None else requirements.network
    upgraded = PaymentRequirements(
        scheme=requirements.scheme,
        network=network,
        asset=requirements.asset,
        amount=requirements.max_amount_required,
        pay_to=requirements.pay_to,
        max_timeout_seconds=requirements.max_timeout_seconds,
        extra=requirements.extra or {},
    )
    paid_chain = chain_id_of(payload.network)
    accepted = upgraded.model_copy(
        update={"scheme": payload.scheme, "network": caip2(paid_chain) if paid_chain is not None else payload.network}
    )
    return PaymentPayload(x402_version=1, payload=payload.payload, accepted=accepted), upgraded
