"""A whole attestation bundle verified step by step: a simulated enclave's report built from the real dstack
measurements (event log, compose) but bound to our key and nonce, refused unless simulated quotes are allowed,
and failing at the right step for every single-field tamper. Response signatures and NRAS tokens too."""

from __future__ import annotations

import base64
import json
import secrets
import time
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from eth_account import Account
from eth_account.messages import encode_defunct

from cluster.tee import binding, eventlog, nras, quote, signature, simulated
from cluster.tee.errors import VerificationFailed
from cluster.tee.verify import AttestationBundle, verify_bundle


@pytest.fixture
def signer() -> Any:
    return Account.create()


@pytest.fixture
def bundle(dstack: dict[str, Any], signer: Any) -> AttestationBundle:
    nonce = secrets.token_bytes(32)
    real = quote.fields(dstack["quote"])
    fields = quote.QuoteFields(
        mrtd=real.mrtd,
        rtmr=eventlog.replay(dstack["event_log"]),
        mr_config_id=real.mr_config_id,
        report_data=binding.expected_report_data(signer.address, nonce),
    )
    return AttestationBundle(
        signing_address=signer.address,
        intel_quote=simulated.make_quote(fields).hex(),
        event_log=dstack["event_log"],
        app_compose=dstack["app_compose"],
        compose_hash=dstack["compose_hash"],
        app_id=dstack["app_id"],
        nonce=nonce.hex(),
        verified_at=int(time.time()),
    )


def fails_at(bundle: AttestationBundle, step: str, **options: Any) -> str:
    with pytest.raises(VerificationFailed) as caught:
        verify_bundle(bundle, **{"allow_simulated": True, **options})
    assert caught.value.step == step, caught.value
    return caught.value.message


def test_a_simulated_enclave_passes_every_step_only_when_allowed(bundle: AttestationBundle) -> None:
    verified = verify_bundle(bundle, allow_simulated=True, compose_allowed=lambda h: h.hex() == bundle.compose_hash)
    assert verified.steps == ["quote", "report_data", "event_log", "compose", "registry"]
    assert verified.simulated and verified.tcb_status == "Simulated"
    assert "allow-simulated" in fails_at(bundle, "quote", allow_simulated=False)


def test_a_real_quote_without_collateral_is_refused(bundle: AttestationBundle, dstack: dict[str, Any]) -> None:
    real = bundle.model_copy(update={"intel_quote": dstack["quote"].hex()})
    assert "collateral" in fails_at(real, "quote")


def test_each_single_field_tamper_fails_at_its_step(bundle: AttestationBundle) -> None:
    raw = bytearray(bytes.fromhex(bundle.intel_quote))
    raw[-1] ^= 0x01  # the last byte of report_data: the nonce
    assert "another nonce" in fails_at(bundle.model_copy(update={"intel_quote": raw.hex()}), "report_data")
    other_key = bundle.model_copy(update={"signing_address": Account.create().address})
    assert "another signing key" in fails_at(other_key, "report_data")
    events = [dict(e) for e in bundle.event_log]
    events[3]["digest"] = "ab" * 48
    fails_at(bundle.model_copy(update={"event_log": events}), "event_log")
    fails_at(bundle.model_copy(update={"app_compose": bundle.app_compose.replace("dstack", "dstaxk", 1)}), "compose")
    fails_at(bundle.model_copy(update={"compose_hash": "00" * 32}), "compose")
    fails_at(bundle.model_copy(update={"app_id": "00" * 20}), "compose")
    # a second compose-hash event, measured (the quote's RTMR3 includes it) but extended after boot
    late = [*bundle.event_log, {**next(e for e in bundle.event_log if e["event"] == "compose-hash")}]
    fields = simulated.fields(bytes.fromhex(bundle.intel_quote))
    requoted = simulated.make_quote(
        quote.QuoteFields(fields.mrtd, eventlog.replay(late), fields.mr_config_id, fields.report_data)
    )
    relogged = bundle.model_copy(update={"event_log": late, "intel_quote": requoted.hex()})
    assert "after boot or repeated" in fails_at(relogged, "event_log")
    assert "not an allowed TD image" in fails_at(bundle, "quote", allowed_mrtd=frozenset({"00" * 48}))
    assert "not allowed on chain" in fails_at(bundle, "registry", compose_allowed=lambda h: False)


def test_the_bundle_digest_changes_with_any_field(bundle: AttestationBundle) -> None:
    assert bundle.digest() == AttestationBundle.model_validate_json(bundle.model_dump_json()).digest()
    assert bundle.digest() != bundle.model_copy(update={"verified_at": bundle.verified_at + 1}).digest()


def test_a_response_signature_verifies_only_for_its_bodies_and_key(signer: Any) -> None:
    request, response = b'{"model":"m","messages":[]}', b"data: {...}\n\ndata: [DONE]\n\n"
    text = signature.signed_text(request, response)
    signed = Account.sign_message(encode_defunct(text=text), signer.key).signature.hex()
    signature.check_signature(text, signed, signer.address, "ecdsa")
    with pytest.raises(VerificationFailed, match="not the attested") as caught:
        signature.check_signature(signature.signed_text(request, response + b" "), signed, signer.address, "ecdsa")
    assert caught.value.step == "signature"
    with pytest.raises(VerificationFailed, match="not the attested"):
        signature.check_signature(text, signed, Account.create().address, "ecdsa")
    bad = bytearray(bytes.fromhex(signed.removeprefix("0x")))
    bad[10] ^= 1
    with pytest.raises(VerificationFailed):
        signature.check_signature(text, bad.hex(), signer.address, "ecdsa")
    key = Ed25519PrivateKey.generate()
    public = key.public_key().public_bytes_raw().hex()
    signature.check_signature(text, key.sign(text.encode()).hex(), public, "ed25519")
    with pytest.raises(VerificationFailed, match="ed25519"):
        signature.check_signature(text + "x", key.sign(text.encode()).hex(), public, "ed25519")


def _jwt(key: ec.EllipticCurvePrivateKey, kid: str, claims: dict[str, Any]) -> str:
    def b64(data: bytes) -> str:
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    head = b64(json.dumps({"kid": kid, "alg": "ES384"}).encode()) + "." + b64(json.dumps(claims).encode())
    r, s = decode_dss_signature(key.sign(head.encode(), ec.ECDSA(hashes.SHA384())))
    return head + "." + b64(r.to_bytes(48, "big") + s.to_bytes(48, "big"))


def test_nras_tokens_are_checked_with_nvidias_keys_and_our_nonce(dstack: dict[str, Any]) -> None:
    header, payload = nras.claims(dstack["nras"][0][1])  # the real platform token
    assert header["alg"] == "ES384" and payload["iss"] == "https://nras.attestation.nvidia.com"
    with pytest.raises(VerificationFailed, match="no NVIDIA key"):  # NVIDIA's JWKS cannot be fetched here
        nras.check_token(dstack["nras"][0][1], {}, payload["eat_nonce"], payload["iat"])
    key = ec.generate_private_key(ec.SECP384R1())
    jwks = {"keys": [{"kty": "EC", "crv": "P-384", "kid": "test-kid", **_xy(key)}]}
    keys = nras.keys_from_jwks(jwks)
    now, nonce = int(time.time()), secrets.token_hex(32)
    claims = {"nbf": now - 5, "exp": now + 60, "eat_nonce": nonce, "x-nvidia-overall-att-result": True, "submods": {}}
    token = _jwt(key, "test-kid", claims)
    assert nras.check_token(token, keys, nonce, now)["eat_nonce"] == nonce
    with pytest.raises(VerificationFailed, match="another nonce"):
        nras.check_token(token, keys, secrets.token_hex(32), now)
    with pytest.raises(VerificationFailed, match="not valid now"):
        nras.check_token(token, keys, nonce, now + 120)
    forged = _jwt(ec.generate_private_key(ec.SECP384R1()), "test-kid", claims)
    with pytest.raises(VerificationFailed, match="signature does not verify"):
        nras.check_token(forged, keys, nonce, now)
    failed = _jwt(key, "test-kid", {**claims, "x-nvidia-overall-att-result": False})
    with pytest.raises(VerificationFailed, match="GPU attestation passed"):
        nras.check_token(failed, keys, nonce, now)
    no_nonce = _jwt(key, "test-kid", {k: v for k, v in claims.items() if k != "eat_nonce"})
    with pytest.raises(VerificationFailed, match="another nonce"):
        nras.check_token(no_nonce, keys, nonce, now)


def _xy(key: ec.EllipticCurvePrivateKey) -> dict[str, str]:
    numbers = key.public_key().public_numbers()

    def b64(value: int) -> str:
        return base64.urlsafe_b64encode(value.to_bytes(48, "big")).rstrip(b"=").decode()

    return {"x": b64(numbers.x), "y": b64(numbers.y)}
