"""Each verification step on real attestation data, and each single-field tamper failing at its own step."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import pytest

from cluster.tee import binding, compose, eventlog, quote
from cluster.tee.errors import VerificationFailed


def test_the_real_dcap_quote_verifies_offline(dcap: dict[str, Any]) -> None:
    verdict = quote.verify_quote(dcap["quote"], dcap["collateral"], dcap["now"])
    assert verdict.status == "UpToDate"
    fields = quote.fields(dcap["quote"])
    assert len(fields.mrtd) == 48 and all(len(r) == 48 for r in fields.rtmr) and len(fields.report_data) == 64


def test_the_outdated_quote_is_refused_and_says_why(dcap: dict[str, Any]) -> None:
    """Its platform TCB is below every level its collateral lists, so dcap-qvl (0.6.6 and 0.7.0 alike) gives it
    no status at all: "No matching TCB level found" (the fixture README expected OutOfDate)."""
    with pytest.raises(VerificationFailed) as caught:
        quote.verify_quote(dcap["outdated"], dcap["outdated_collateral"], dcap["outdated_now"])
    assert caught.value.step == "quote" and "No matching TCB level found" in caught.value.message


def test_the_accepted_tcb_statuses_are_a_policy(dcap: dict[str, Any]) -> None:
    with pytest.raises(VerificationFailed, match="TCB status UpToDate is not accepted"):
        quote.verify_quote(dcap["quote"], dcap["collateral"], dcap["now"], frozenset({"OutOfDate"}))


# header, TD report (measurements, report_data), quote signature, attestation key, QE report, the PCK leaf
# certificate's body. (The chain's copy of Intel's root is not used: the verifier trusts its own root.)
@pytest.mark.parametrize("offset", [0, 60, 200, 600, 640, 700, 800, 1000, 1400])
def test_one_changed_byte_anywhere_in_the_quote_fails_the_quote_step(dcap: dict[str, Any], offset: int) -> None:
    tampered = bytearray(dcap["quote"])
    tampered[offset] ^= 0x01
    with pytest.raises(VerificationFailed) as caught:
        quote.verify_quote(bytes(tampered), dcap["collateral"], dcap["now"])
    assert caught.value.step == "quote"


def test_collateral_out_of_its_validity_fails(dcap: dict[str, Any]) -> None:
    with pytest.raises(VerificationFailed, match="DCAP verification failed"):
        quote.verify_quote(dcap["quote"], dcap["collateral"], dcap["now"] - 7 * 3600)  # before it was issued
    with pytest.raises(VerificationFailed, match="DCAP verification failed"):
        quote.verify_quote(dcap["quote"], dcap["collateral"], dcap["now"] + 365 * 86400)  # long expired


def test_the_dstack_event_log_replays_to_the_quotes_rtmrs(dstack: dict[str, Any]) -> None:
    fields = quote.fields(dstack["quote"])
    measured = eventlog.check_event_log(dstack["event_log"], fields.rtmr)
    assert measured["compose-hash"].hex() == dstack["compose_hash"]
    assert measured["app-id"].hex() == dstack["app_id"]
    assert fields.mrtd.hex() == dstack["mrtd"]


def test_the_dstack_compose_hash_is_measured_three_ways(dstack: dict[str, Any]) -> None:
    fields = quote.fields(dstack["quote"])
    measured = eventlog.check_event_log(dstack["event_log"], fields.rtmr)
    compose_hash = bytes.fromhex(dstack["compose_hash"])
    assert hashlib.sha256(dstack["app_compose"].encode()).digest() == compose_hash
    assert fields.mr_config_id[:33] == b"\x01" + compose_hash
    compose.check_compose(dstack["app_compose"], compose_hash, fields.mr_config_id, measured)


def test_a_changed_event_fails_the_event_log_step(dstack: dict[str, Any]) -> None:
    fields = quote.fields(dstack["quote"])
    digest_changed = [dict(e) for e in dstack["event_log"]]
    digest_changed[5]["digest"] = "00" + digest_changed[5]["digest"][2:]
    with pytest.raises(VerificationFailed, match="RTMR") as caught:
        eventlog.check_event_log(digest_changed, fields.rtmr)
    assert caught.value.step == "event_log"
    payload_changed = [dict(e) for e in dstack["event_log"]]
    index = next(i for i, e in enumerate(payload_changed) if e["event"] == "compose-hash")
    payload_changed[index]["event_payload"] = "ff" * 32  # claims another compose hash, same digest
    with pytest.raises(VerificationFailed, match="'compose-hash' does not match its digest"):
        eventlog.check_event_log(payload_changed, fields.rtmr)


def test_a_changed_compose_fails_the_compose_step(dstack: dict[str, Any]) -> None:
    fields = quote.fields(dstack["quote"])
    measured = eventlog.check_event_log(dstack["event_log"], fields.rtmr)
    compose_hash = bytes.fromhex(dstack["compose_hash"])
    with pytest.raises(VerificationFailed, match="sha256\\(app_compose\\)"):
        compose.check_compose(dstack["app_compose"] + " ", compose_hash, fields.mr_config_id, measured)
    other = hashlib.sha256(b"another app").digest()
    with pytest.raises(VerificationFailed) as caught:
        compose.check_compose("another app", other, fields.mr_config_id, measured)
    assert caught.value.step == "compose" and "RTMR3" in caught.value.message
    with pytest.raises(VerificationFailed, match="MRCONFIGID"):
        compose.check_compose(dstack["app_compose"], compose_hash, b"\x01" + bytes(47), measured)


def test_report_data_binds_the_signing_key_and_the_nonce() -> None:
    address, nonce = "0x" + secrets.token_hex(20), secrets.token_bytes(32)
    report_data = binding.expected_report_data(address, nonce)
    assert report_data[:20] == bytes.fromhex(address[2:]) and report_data[20:32] == bytes(12)
    binding.check_binding(report_data, address, nonce)
    with pytest.raises(VerificationFailed, match="another signing key"):
        binding.check_binding(report_data, "0x" + secrets.token_hex(20), nonce)
    with pytest.raises(VerificationFailed, match="another nonce"):
        binding.check_binding(report_data, address, secrets.token_bytes(32))
    ed25519 = secrets.token_hex(32)  # an ed25519 key fills the first half exactly
    binding.check_binding(binding.expected_report_data(ed25519, nonce), ed25519, nonce)


def test_the_real_dstack_report_data_binds_no_key_of_ours(dstack: dict[str, Any]) -> None:
    """The sample's report_data is 64 bytes of 0x01 (the fixture's README): a quote not made for us fails."""
    fields = quote.fields(dstack["quote"])
    assert fields.report_data == b"\x01" * 64
    with pytest.raises(VerificationFailed) as caught:
        binding.check_binding(fields.report_data, "0x" + "01" * 20, secrets.token_bytes(32))
    assert caught.value.step == "report_data"
