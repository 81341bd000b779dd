"""An attestation bundle verified step by step; a receipt re-verified offline.

Steps, in order (each a function of its own module, each failing with its name):
``quote`` (DCAP chain and TCB status; a simulated quote only with ``allow_simulated``) → ``report_data`` (the
signing key and our nonce) → ``event_log`` (RTMR0-3 replay; RTMR3 events match their digests) → ``compose``
(app_compose hashes to the compose hash, which RTMR3 and MRCONFIGID carry) → ``registry`` (the compose hash is
allowed on chain, when a checker is given) → ``gpu`` (NRAS tokens, when present and keys are given) →
``signature`` (a receipt's response signature under the attested key).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from typing import Any, Literal

from pydantic import BaseModel, Field

from cluster.tee import binding, compose, eventlog, nras, quote, simulated
from cluster.tee.errors import VerificationFailed


class AttestationBundle(BaseModel):
    """What a confidential provider's ``/v1/attestation/report`` returned, with what we asked and what checks it."""

    signing_address: str
    signing_algo: Literal["ecdsa", "ed25519"] = "ecdsa"
    intel_quote: str = Field(description="hex")
    event_log: list[dict[str, Any]]
    app_compose: str
    compose_hash: str
    app_id: str | None = None
    nvidia_payload: str | None = None
    e2ee_public_key: str | None = Field(None, description="hex X25519 key for end-to-end encryption (measured)")
    nonce: str = Field(description="the 32-byte hex nonce we sent")
    collateral: str | None = Field(None, description="DCAP collateral JSON (None: only a simulated quote)")
    verified_at: int = Field(description="unix time the collateral was checked against")

    def digest(self) -> str:
        """sha256 of the canonical JSON: what a receipt names."""
        return hashlib.sha256(json.dumps(self.model_dump(), sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class Verified(BaseModel):
    steps: list[str]
    tcb_status: str
    simulated: bool
    compose_hash: str
    signing_address: str


def verify_bundle(
    bundle: AttestationBundle,
    *,
    allow_simulated: bool = False,
    compose_allowed: Callable[[bytes], bool] | None = None,
    nvidia_keys: dict[str, Any] | None = None,
    accepted_tcb: frozenset[str] = quote.ACCEPTED_STATUSES,
    allowed_mrtd: frozenset[str] = frozenset(),
) -> Verified:
    """``compose_allowed`` (the registry, or an allow-list) and ``allowed_mrtd`` (hex TD images) are the
    measurement policy: without them a pass only means "a genuine TD that measured this compose"."""
    raw = _hex(bundle.intel_quote, "quote")
    steps = []
    if simulated.is_simulated(raw):
        if not allow_simulated:
            raise VerificationFailed(
                "quote", "a simulated enclave's quote, not a TEE's (accept it with --allow-simulated)"
            )
        fields, status = simulated.fields(raw), "Simulated"
    else:
        if bundle.collateral is None:
            raise VerificationFailed("quote", "no DCAP collateral to check the quote against")
        status = quote.verify_quote(raw, bundle.collateral, bundle.verified_at, accepted_tcb).status
        fields = quote.fields(raw)
    if allowed_mrtd and fields.mrtd.hex() not in allowed_mrtd:
        raise VerificationFailed("quote", f"MRTD {fields.mrtd.hex()[:16]}… is not an allowed TD image")
    steps.append("quote")
    binding.check_binding(fields.report_data, bundle.signing_address, _hex(bundle.nonce, "report_data"))
    steps.append("report_data")
    measured = eventlog.check_event_log(bundle.event_log, fields.rtmr)
    steps.append("event_log")
    compose_hash = _hex(bundle.compose_hash, "compose")
    compose.check_compose(bundle.app_compose, compose_hash, fields.mr_config_id, measured)
    if bundle.app_id is not None and measured.get("app-id") != _hex(bundle.app_id, "compose"):
        raise VerificationFailed("compose", "the app id is not the one measured into RTMR3")
    steps.append("compose")
    if bundle.e2ee_public_key is not None:
        if measured.get("e2ee-key") != _hex(bundle.e2ee_public_key, "e2ee_key"):
            raise VerificationFailed("e2ee_key", "the encryption key is not the one measured into RTMR3")
        steps.append("e2ee_key")
    if compose_allowed is not None:
        if not compose_allowed(compose_hash):
            raise VerificationFailed("registry", f"compose hash {bundle.compose_hash} is not allowed on chain")
        steps.append("registry")
    if bundle.nvidia_payload and nvidia_keys is not None:
        for token in _nras_tokens(bundle.nvidia_payload):
            nras.check_token(token, nvidia_keys, bundle.nonce, bundle.verified_at)
        steps.append("gpu")
    return Verified(
        steps=steps,
        tcb_status=status,
        simulated=status == "Simulated",
        compose_hash=bundle.compose_hash,
        signing_address=bundle.signing_address,
    )


def _nras_tokens(payload: str) -> list[str]:
    """NRAS's response: ``[["JWT", platform_token], {"GPU-0": gpu_token, …}]``."""
    try:
        parsed = json.loads(payload)
        return [parsed[0][1], *parsed[1].values()]
    except (ValueError, LookupError, TypeError, AttributeError):
        raise VerificationFailed("gpu", "not an NRAS response") from None


def _hex(value: str, step: str) -> bytes:
    try:
        return bytes.fromhex(value.removeprefix("0x"))
    except ValueError:
        raise VerificationFailed(step, "not hex") from None
