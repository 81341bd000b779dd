"""Attesting a confidential provider: ask for a report with a fresh nonce, verify every step, keep the verdict
for ``attestation_interval`` seconds. Until it verifies, the provider gets no request (fail closed)."""

from __future__ import annotations

import asyncio
import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp

from cluster.tee import nras
from cluster.tee.errors import VerificationFailed
from cluster.tee.simulated import MAGIC
from cluster.tee.verify import AttestationBundle, Verified, verify_bundle

log = logging.getLogger(__name__)
_SIMULATED_HEX = MAGIC.hex()


@dataclass(frozen=True, slots=True)
class Attested:
    bundle: AttestationBundle
    verified: Verified
    digest: str
    at: float


class Attestor:
    def __init__(
        self,
        fetch: Callable[[str, dict[str, str]], Awaitable[Any]],
        model: str,
        *,
        allow_simulated: bool,
        interval: float,
        pccs_url: str,
        save: Callable[[AttestationBundle], Awaitable[str]] | None = None,
        allowed_compose: frozenset[str] = frozenset(),
        allowed_mrtd: frozenset[str] = frozenset(),
        nvidia_jwks: str | None = None,
        compose_allowed: Callable[[bytes], Awaitable[bool]] | None = None,
        compose_policy: str = "either",
    ) -> None:
        """``fetch(path, query)`` GETs the provider's JSON; ``save`` stores a verified bundle (returns its digest)."""
        self._fetch = fetch
        self._model = model
        self._allow_simulated = allow_simulated
        self._interval = interval
        self._pccs_url = pccs_url
        self._allowed_compose = allowed_compose
        self._allowed_mrtd = allowed_mrtd
        self._nvidia_jwks = nvidia_jwks
        self._save = save
        self._current: Attested | None = None
        self._lock = asyncio.Lock()
        #: async compose-hash check against the on-chain registry (None: the allow-list decides)
        self._compose_allowed = compose_allowed
        self._policy = compose_policy
        self.last_error: str | None = None

    async def _build_trusted(self, compose_hash: str) -> bool:
        """The build must be one we chose to trust, by the provider's ``compose_policy``: in its configured
        allow-list, allowed on the chain's ComposeRegistry, or either."""
        listed = compose_hash.lower() in self._allowed_compose
        if self._policy == "allow_list" or (self._policy == "either" and self._compose_allowed is None):
            if not self._allowed_compose:
                raise VerificationFailed(
                    "registry", f"compose_policy = {self._policy}: allowed_compose_hashes is empty"
                )
            return listed
        if self._compose_allowed is None:
            raise VerificationFailed("registry", "compose_policy = registry, but no ComposeRegistry is deployed")
        return (self._policy == "either" and listed) or await self._compose_allowed(bytes.fromhex(compose_hash))

    @property
    def verified(self) -> bool:
        return self._current is not None and time.monotonic() - self._current.at < self._interval

    async def current(self) -> Attested:
        if self.verified:
            assert self._current is not None
            return self._current
        async with self._lock:
            if not self.verified:
                try:
                    self._current = await self._attest()
                    self.last_error = None
                except VerificationFailed as failure:
                    self._current = None
                    self.last_error = str(failure)
                    raise
        assert self._current is not None
        return self._current

    def forget(self) -> None:
        """Re-attest before the next request (a signature failed to verify under the attested key)."""
        self._current = None

    async def _attest(self) -> Attested:
        nonce = secrets.token_hex(32)
        try:
            report = await self._fetch(
                "attestation/report", {"model": self._model, "nonce": nonce, "signing_algo": "ecdsa"}
            )
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            raise VerificationFailed("fetch", f"no attestation report: {type(exc).__name__}: {exc}") from None
        bundle = bundle_of(report, nonce)
        if not bundle.intel_quote.startswith(_SIMULATED_HEX):
            bundle = bundle.model_copy(update={"collateral": await collateral(self._pccs_url, bundle.intel_quote)})
        allowed = await self._build_trusted(bundle.compose_hash)
        verified = verify_bundle(
            bundle,
            allow_simulated=self._allow_simulated,
            compose_allowed=lambda _: allowed,
            allowed_mrtd=self._allowed_mrtd,
            # GPU evidence, when the provider sends it, must verify: no keys means no pass (fail closed)
            nvidia_keys=await nvidia_keys(self._nvidia_jwks) if bundle.nvidia_payload else None,
        )
        digest = await self._save(bundle) if self._save else bundle.digest()
        log.info(
            "attested %s: %s, compose %s, steps %s",
            self._model,
            verified.tcb_status,
            bundle.compose_hash[:16],
            verified.steps,
        )
        return Attested(bundle, verified, digest, time.monotonic())


def bundle_of(report: dict[str, Any], nonce: str) -> AttestationBundle:
    """A provider's ``/v1/attestation/report`` answer (Phala / private-ml-sdk shape) as a bundle to verify."""
    try:
        info = report.get("info") or {}
        tcb = info.get("tcb_info") or {}
        if isinstance(tcb, str):
            tcb = json.loads(tcb)
        events = report.get("event_log") or tcb.get("event_log") or []
        if isinstance(events, str):
            events = json.loads(events)
        return AttestationBundle(
            signing_address=report["signing_address"],
            signing_algo=report.get("signing_algo", "ecdsa"),
            intel_quote=report["intel_quote"],
            event_log=events,
            app_compose=tcb["app_compose"],
            compose_hash=info.get("compose_hash") or tcb["compose_hash"],
            app_id=info.get("app_id"),
            nvidia_payload=report.get("nvidia_payload"),
            e2ee_public_key=info.get("e2ee_public_key"),
            nonce=nonce,
            verified_at=int(time.time()),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise VerificationFailed("fetch", f"the attestation report is incomplete: {exc}") from None


async def nvidia_keys(source: str | None) -> dict[str, Any]:
    """NRAS's signing keys from its JWKS (a URL, or a file for offline use)."""
    if source is None:
        raise VerificationFailed("gpu", "GPU evidence but no NVIDIA keys configured (nvidia_jwks)")
    try:
        if source.startswith(("http://", "https://")):
            timeout = aiohttp.ClientTimeout(total=10)
            async with aiohttp.ClientSession(timeout=timeout) as http, http.get(source) as response:
                jwks = await response.json(content_type=None)
        else:
            jwks = json.loads(await asyncio.to_thread(Path(source).read_text))
    except (aiohttp.ClientError, TimeoutError, OSError, ValueError) as exc:
        raise VerificationFailed("gpu", f"no NVIDIA keys from {source}: {exc}") from None
    return nras.keys_from_jwks(jwks)


async def collateral(pccs_url: str, quote_hex: str) -> str:
    """DCAP collateral for a real quote from a PCCS (not reachable from this machine's tests)."""
    import dcap_qvl

    try:
        collateral = await dcap_qvl.get_collateral(pccs_url, bytes.fromhex(quote_hex))
        return str(collateral.to_json())
    except Exception as exc:
        raise VerificationFailed("quote", f"no DCAP collateral from {pccs_url}: {exc}") from None
