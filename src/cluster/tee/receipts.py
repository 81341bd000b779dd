"""Receipts: what Cluster hands back for every confidential response, and how anyone re-verifies one offline.

A receipt binds the request's and the response's sha256 (the exact bytes sent to and received from the
provider), the model, the provider, the provider's signature over ``request_sha256:response_sha256`` and the
attested signing address, and the attestation it was verified against (its digest, compose hash and TCB status),
with the bundle itself so the receipt verifies with nothing else. It holds no prompt or completion text.

What it proves, and what not: that an enclave running the attested build (for a real TDX quote: on genuine Intel
hardware with that TCB) signed exactly this response to exactly this request. It says nothing about Cluster's
gateway, which is outside the enclave and could have refused, delayed or logged the traffic (the E2EE tier takes
the plaintext out of the gateway's reach).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.tee.errors import VerificationFailed
from cluster.tee.models import AttestationRow, ReceiptRow
from cluster.tee.signature import check_signature
from cluster.tee.verify import AttestationBundle, Verified, verify_bundle


class Receipt(BaseModel):
    """``model``, ``provider`` and ``chat_id`` are Cluster's statements; the signature proves the bytes, whose
    hashes are here (the response body itself names its model and id)."""

    object: Literal["tee.receipt"] = "tee.receipt"
    id: str
    created_at: int
    model: str
    provider: str
    chat_id: str
    request_sha256: str
    response_sha256: str
    signature: str
    signing_address: str
    signing_algo: str
    attestation_digest: str
    compose_hash: str
    tcb_status: str
    simulated: bool
    attestation: AttestationBundle


async def verify_receipt(
    receipt: Receipt,
    *,
    allow_simulated: bool = False,
    compose_allowed: Callable[[bytes], Awaitable[bool]] | None = None,
    nvidia_keys: dict[str, Any] | None = None,
) -> list[str]:
    """The steps passed, in order; ``VerificationFailed`` names the first that does not."""
    if receipt.attestation.digest() != receipt.attestation_digest:
        raise VerificationFailed("attestation_digest", "the attestation is not the one the receipt names")
    allowed = None
    if compose_allowed is not None:
        allowed = await compose_allowed(bytes.fromhex(receipt.attestation.compose_hash))
    verified = verify_bundle(
        receipt.attestation,
        allow_simulated=allow_simulated,
        compose_allowed=None if allowed is None else (lambda _: allowed),
        nvidia_keys=nvidia_keys,
    )
    if receipt.signing_address.lower() != verified.signing_address.lower():
        raise VerificationFailed("signature", "the receipt's signer is not the attested key")
    claimed = (receipt.compose_hash, receipt.tcb_status, receipt.simulated)
    if claimed != (verified.compose_hash, verified.tcb_status, verified.simulated):
        raise VerificationFailed("attestation_digest", "the receipt's compose hash, TCB status or simulated flag "
                                 "is not what its attestation shows")  # fmt: skip
    text = f"{receipt.request_sha256}:{receipt.response_sha256}"
    check_signature(text, receipt.signature, receipt.signing_address, receipt.signing_algo)
    return ["attestation_digest", *verified.steps, "signature"]


class ReceiptStore:
    """Receipts by id; each attestation stored once, by digest, and joined back on read."""

    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    @staticmethod
    def new_id() -> str:
        return f"rcpt_{uuid.uuid4().hex[:24]}"

    async def save_attestation(self, bundle: AttestationBundle) -> str:
        digest = bundle.digest()
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    insert(AttestationRow).values(
                        digest=digest, created_at=datetime.now(UTC), bundle=bundle.model_dump()
                    )
                )
        except IntegrityError:
            pass  # stored already
        return digest

    async def save(self, receipt: Receipt, user_id: str | None) -> None:
        body = receipt.model_dump(exclude={"attestation"})
        async with self._engine.begin() as connection:
            await connection.execute(
                insert(ReceiptRow).values(
                    id=receipt.id,
                    created_at=datetime.now(UTC),
                    user_id=user_id,
                    attestation_digest=receipt.attestation_digest,
                    body=body,
                )
            )

    async def recent(self, user_id: str, limit: int = 50) -> list[dict[str, Any]]:
        """The account's newest receipts, as stored (hashes and statements; the attestation is joined by get)."""
        query = (
            select(ReceiptRow.body)
            .where(ReceiptRow.user_id == user_id)
            .order_by(ReceiptRow.created_at.desc())
            .limit(limit)
        )
        async with self._engine.connect() as connection:
            return [row.body for row in await connection.execute(query)]

    async def get(self, receipt_id: str, user_id: str | None) -> Receipt | None:
        """``user_id``: only that account's receipt (None: any, for admins)."""
        query = (
            select(ReceiptRow.body, AttestationRow.bundle)
            .join(AttestationRow, AttestationRow.digest == ReceiptRow.attestation_digest)
            .where(ReceiptRow.id == receipt_id)
        )
        if user_id is not None:
            query = query.where(ReceiptRow.user_id == user_id)
        async with self._engine.connect() as connection:
            row = (await connection.execute(query)).one_or_none()
        if row is None:
            return None
        return Receipt.model_validate({**row.body, "attestation": row.bundle})


def make_receipt(
    receipt_id: str,
    *,
    model: str,
    provider: str,
    chat_id: str,
    request_sha256: str,
    response_sha256: str,
    signed: dict[str, Any],
    bundle: AttestationBundle,
    verified: Verified,
) -> Receipt:
    return Receipt(
        id=receipt_id,
        created_at=int(time.time()),
        model=model,
        provider=provider,
        chat_id=chat_id,
        request_sha256=request_sha256,
        response_sha256=response_sha256,
        signature=signed["signature"],
        signing_address=signed["signing_address"],
        signing_algo=signed.get("signing_algo", "ecdsa"),
        attestation_digest=bundle.digest(),
        compose_hash=bundle.compose_hash,
        tcb_status=verified.tcb_status,
        simulated=verified.simulated,
        attestation=bundle,
    )
