"""A confidential (TEE) provider: any OpenAI-compatible upstream that also serves ``/v1/attestation/report`` and
``/v1/signature/{chat_id}`` (Phala / RedPill, NEAR AI private-ml-sdk, Cluster's simulated enclave).

Fail closed: no request is sent until the provider's attestation verifies (``Attestor``), and a response whose
signature does not verify under the attested key is not passed on (a stream, already under way, ends with an
error event instead of ``[DONE]``). Every verified response gets a receipt (``cluster.tee.receipts``) whose id
goes back in ``x-cluster-receipt-id``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import orjson

from cluster.providers.base import Call, Capability, Completion, ProviderFailure
from cluster.providers.openai_http import OpenAIUpstream, UpstreamStream
from cluster.settings import ProviderConfig
from cluster.tee.attestation import Attested, Attestor
from cluster.tee.errors import VerificationFailed
from cluster.tee.receipts import ReceiptStore, make_receipt
from cluster.tee.signature import check_signature, signed_text
from cluster.wire.openai import ChatCompletionRequest
from cluster.wire.sse import DONE

RECEIPT_HEADER = "x-cluster-receipt-id"


class ConfidentialProvider(OpenAIUpstream):
    capabilities = frozenset({Capability.CHAT})
    tee = True

    def __init__(
        self,
        config: ProviderConfig,
        receipts: ReceiptStore,
        compose_allowed: Callable[[bytes], Awaitable[bool]] | None = None,
    ) -> None:
        """``receipts`` keeps receipts and verified attestations; ``compose_allowed`` checks an enclave build
        against the on-chain registry (None: the configured allow-list)."""
        super().__init__(config)
        model = next(iter(config.models.values()), "")
        self.receipts = receipts
        self.attestor = Attestor(
            self._get_json,
            model,
            allow_simulated=config.allow_simulated,
            interval=config.attestation_interval,
            pccs_url=config.pccs_url,
            save=receipts.save_attestation,
            allowed_compose=frozenset(h.lower().removeprefix("0x") for h in config.allowed_compose_hashes),
            allowed_mrtd=frozenset(h.lower().removeprefix("0x") for h in config.allowed_mrtd),
            nvidia_jwks=config.nvidia_jwks,
            compose_allowed=compose_allowed,
            compose_policy=config.compose_policy,
        )

    @property
    def verified(self) -> bool:
        return self.attestor.verified

    async def chat(
        self, request: ChatCompletionRequest, upstream_model: str, call: Call
    ) -> Completion | UpstreamStream:
        attested = await self._attested()
        sent = self._chat_body(request, upstream_model)
        receipt_id = ReceiptStore.new_id()
        if not request.stream:
            body = await self._post("chat/completions", sent)
            await self._receipt(receipt_id, attested, upstream_model, sent, body, _chat_id(body), call.user_id)
            completion = self._completion(request, body)
            completion.headers = {RECEIPT_HEADER: receipt_id}
            return completion
        response = await self._open_stream(sent)
        return _SignedStream(self, response, request, attested, upstream_model, sent, receipt_id, call.user_id)

    async def report(self, nonce: str, model: str) -> Any:
        """A fresh attestation report for a client's own nonce, passed through untouched (the client verifies it)."""
        return await self._get_json("attestation/report", {"model": model, "nonce": nonce, "signing_algo": "ecdsa"})

    async def _attested(self) -> Attested:
        try:
            return await self.attestor.current()
        except VerificationFailed as failure:  # nothing is sent to a provider that does not attest
            raise ProviderFailure(self.name, f"attestation failed at {failure.step}: {failure.message}") from None

    async def _receipt(
        self,
        receipt_id: str,
        attested: Attested,
        model: str,
        sent: bytes,
        received: bytes,
        chat_id: str,
        user_id: str | None,
    ) -> None:
        """Fetch the provider's signature, check it covers exactly these bytes under the attested key, record it."""
        try:
            signed = await self._get_json(f"signature/{chat_id}", {"model": model, "signing_algo": "ecdsa"})
            text = signed_text(sent, received)
            if signed.get("text") != text:
                raise VerificationFailed("signature", "the provider signed other bytes than were exchanged")
            if str(signed.get("signing_address", "")).lower() != attested.bundle.signing_address.lower():
                raise VerificationFailed("signature", "signed by a key other than the attested one")
            check_signature(text, signed["signature"], attested.bundle.signing_address, attested.bundle.signing_algo)
        except VerificationFailed as failure:
            self.attestor.forget()
            raise ProviderFailure(self.name, f"response not verified: {failure.message}") from None
        except (aiohttp.ClientError, TimeoutError, ValueError, KeyError) as exc:
            raise ProviderFailure(self.name, f"no signature for {chat_id}: {exc}") from None
        receipt = make_receipt(
            receipt_id,
            model=model,
            provider=self.name,
            chat_id=chat_id,
            request_sha256=hashlib.sha256(sent).hexdigest(),
            response_sha256=hashlib.sha256(received).hexdigest(),
            signed=signed,
            bundle=attested.bundle,
            verified=attested.verified,
        )
        await self.receipts.save(receipt, user_id)

    async def _get_json(self, path: str, query: dict[str, str]) -> Any:
        async with self._client().get(path, params=query) as response:
            body = await response.read()
            if response.status != 200:
                raise ValueError(f"{path} answered {response.status}")
        return orjson.loads(body)


class _SignedStream(UpstreamStream):
    """The upstream's events, passed on as they come, its raw bytes hashed; at ``[DONE]`` the signature is
    checked and the receipt recorded before ``[DONE]`` goes to the client."""

    def __init__(
        self,
        provider: ConfidentialProvider,
        response: aiohttp.ClientResponse,
        request: ChatCompletionRequest,
        attested: Attested,
        model: str,
        sent: bytes,
        receipt_id: str,
        user_id: str | None,
    ) -> None:
        self._raw = bytearray()
        super().__init__(provider.name, response, request, tap=self._raw.extend)
        self.headers = {RECEIPT_HEADER: receipt_id}
        self._confidential = provider
        self._attested = attested
        self._model = model
        self._sent = sent
        self._receipt_id = receipt_id
        self._chat_id: str | None = None
        self._user = user_id

    async def __anext__(self) -> bytes:
        item = await super().__anext__()
        if item == DONE:  # the signature is checked before the client is told the answer is complete
            if self._chat_id is None:
                raise ProviderFailure(self._provider, "tee: the stream carried no completion id")
            await self._confidential._receipt(
                self._receipt_id, self._attested, self._model, self._sent, bytes(self._raw), self._chat_id, self._user
            )
        elif self._chat_id is None and item.startswith(b"data: {"):
            self._chat_id = orjson.loads(item[6:]).get("id")
        return item


def _chat_id(body: bytes) -> str:
    try:
        return str(orjson.loads(body)["id"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        raise ProviderFailure("confidential", "the response carries no completion id") from None
