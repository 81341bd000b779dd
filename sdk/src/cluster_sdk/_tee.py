"""Confidential inference from the client side: receipts, fresh attestations, and end-to-end encryption.

Verifying an enclave needs Cluster's verifier (``cluster.tee``: DCAP via dcap-qvl, event-log replay, …), so
``e2ee`` needs the ``cluster-protocol`` package installed beside the SDK; the server is not trusted for it.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode


class E2EESession:
    """Messages sealed to one verified enclave key; its sealed answers opened."""

    def __init__(self, enclave_key: bytes, verified: Any) -> None:
        from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

        self.enclave_key = enclave_key
        self.verified = verified  # what the attestation proved (steps, compose hash, TCB status, simulated)
        self._private = X25519PrivateKey.generate()

    def seal(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        from cluster.tee import e2ee

        return [
            {**m, "content": e2ee.seal(str(m["content"]), self._private, self.enclave_key, e2ee.REQUEST)}
            for m in messages
        ]

    def open(self, envelope: str) -> str:
        from cluster.tee import e2ee

        text, sender = e2ee.open_sealed(envelope, self._private, e2ee.RESPONSE)
        if sender != self.enclave_key:
            raise ValueError("an answer sealed by another key than the verified enclave's")
        return text


class Tee:
    def __init__(self, client: Any) -> None:
        self._client = client

    def receipt(self, receipt_id: str) -> Any:
        return self._client.call("GET", f"/receipts/{receipt_id}", None, lambda d: d)

    def attestation(self, model: str, nonce: str) -> Any:
        query = urlencode({"model": model, "nonce": nonce})
        return self._client.call("GET", f"/tee/attestation?{query}", None, lambda d: d)


def e2ee_session(
    answer: dict[str, Any],
    nonce: str,
    compose_hashes: Iterable[str],
    *,
    allow_simulated: bool = False,
    pccs_url: str = "https://pccs.phala.network",
) -> E2EESession:
    """Verify the enclave's report for our own ``nonce`` — including that it runs one of the builds
    (``compose_hashes``) we trust, so a gateway cannot hand us its own enclave — and take its measured key."""
    import asyncio

    from cluster.tee.attestation import bundle_of, collateral
    from cluster.tee.simulated import MAGIC
    from cluster.tee.verify import verify_bundle

    bundle = bundle_of(answer["report"], nonce)
    key = bundle.e2ee_public_key
    if key is None:
        raise ValueError("this provider publishes no measured encryption key: end-to-end encryption is not possible")
    if not bundle.intel_quote.startswith(MAGIC.hex()):
        bundle = bundle.model_copy(update={"collateral": asyncio.run(collateral(pccs_url, bundle.intel_quote))})
    trusted = {h.lower().removeprefix("0x") for h in compose_hashes}
    verified = verify_bundle(bundle, allow_simulated=allow_simulated, compose_allowed=lambda h: h.hex() in trusted)
    return E2EESession(bytes.fromhex(key), verified)


def verify_receipt(receipt: dict[str, Any], *, allow_simulated: bool = False) -> list[str]:
    """Re-verify a receipt (``client.tee.receipt(id)``) offline: the steps passed, or ``VerificationFailed``
    naming the first that does not (as ``cluster verify``)."""
    import asyncio

    from cluster.tee.receipts import Receipt
    from cluster.tee.receipts import verify_receipt as verify

    return asyncio.run(verify(Receipt.model_validate(receipt), allow_simulated=allow_simulated))


def new_nonce() -> str:
    return secrets.token_hex(32)
