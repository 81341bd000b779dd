"""Costs of verifiable private inference, measured in one run on this machine:

- DCAP verification of the real TDX quote (dcap-qvl, offline collateral);
- a whole attestation bundle (simulated quote, real dstack event log and compose) verified step by step;
- a receipt's offline re-verification (digest + bundle + signature), what `cluster verify` does.

    .venv/bin/python bench/tee.py
"""

from __future__ import annotations

import asyncio
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eth_account import Account
from eth_account.messages import encode_defunct
from tests.tee.conftest import FIXTURES, issued_at

from cluster.devservers.enclave import APP_COMPOSE, SimulatedEnclave
from cluster.tee import quote
from cluster.tee.receipts import Receipt, verify_receipt
from cluster.tee.verify import AttestationBundle, verify_bundle


def rate(label: str, fn: object, seconds: float = 2.0) -> float:
    count, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        fn()  # type: ignore[operator]
        count += 1
    per_second = count / (time.perf_counter() - started)
    print(f"{label}: {per_second:,.0f}/s ({1000 / per_second:.2f} ms each)")
    return per_second


def main() -> None:
    raw = (FIXTURES / "dcap-qvl-tdx_quote").read_bytes()
    collateral = (FIXTURES / "dcap-qvl-tdx_quote_collateral.json").read_text()
    now = issued_at(collateral)
    rate("DCAP quote verification (dcap-qvl, real TDX quote)", lambda: quote.verify_quote(raw, collateral, now))

    enclave = SimulatedEnclave(provider=None, model="m", app_compose=APP_COMPOSE)  # type: ignore[arg-type]
    nonce = bytes(range(32))
    report = enclave.report(nonce)
    bundle = AttestationBundle(
        signing_address=report["signing_address"],
        intel_quote=report["intel_quote"],
        event_log=report["event_log"],
        app_compose=report["info"]["tcb_info"]["app_compose"],
        compose_hash=report["info"]["compose_hash"],
        e2ee_public_key=report["info"]["e2ee_public_key"],
        nonce=nonce.hex(),
        verified_at=int(time.time()),
    )
    rate(
        "attestation bundle, every step but the quote's DCAP chain", lambda: verify_bundle(bundle, allow_simulated=True)
    )
    request, response = b'{"model":"m"}', b'{"id":"x","choices":[]}'
    text = f"{hashlib.sha256(request).hexdigest()}:{hashlib.sha256(response).hexdigest()}"
    signature = Account.sign_message(encode_defunct(text=text), enclave._account.key).signature
    receipt = Receipt(
        id="rcpt_bench", created_at=0, model="m", provider="p", chat_id="x",
        request_sha256=hashlib.sha256(request).hexdigest(), response_sha256=hashlib.sha256(response).hexdigest(),
        signature="0x" + bytes(signature).hex(), signing_address=enclave.signing_address, signing_algo="ecdsa",
        attestation_digest=bundle.digest(), compose_hash=bundle.compose_hash, tcb_status="Simulated",
        simulated=True, attestation=bundle,
    )  # fmt: skip
    rate("receipt re-verification (cluster verify)", lambda: asyncio.run(verify_receipt(receipt, allow_simulated=True)))


if __name__ == "__main__":
    main()
