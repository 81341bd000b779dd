"""The simulated enclave: a development stand-in for a confidential provider (Phala / NEAR AI private-ml-sdk),
for a machine with no TEE. **It is not confidential and proves nothing**: it serves a local model with the same
API as the real ones so the whole verification path can run, and its quote says plainly that it is simulated,
so verification refuses it unless explicitly told ``--allow-simulated``.

API, as the real providers':
- ``POST /v1/chat/completions`` (JSON or SSE), from the bundled local model;
- ``GET /v1/attestation/report?nonce=<64 hex>&signing_algo=ecdsa``: ``signing_address``, ``intel_quote`` (the
  simulated quote: report_data = signing address ‖ nonce), ``event_log`` (RTMR0-2 boot events and dstack's RTMR3
  events, replaying to the quote's RTMRs), ``info`` (``app_id``, ``compose_hash``, ``tcb_info.app_compose``);
- ``GET /v1/signature/{chat_id}``: ``text = sha256hex(request body) + ":" + sha256hex(response body)`` signed
  with EIP-191 personal_sign by the enclave's key (made at start, never leaves the process).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from collections import OrderedDict
from typing import Any

import orjson
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi import FastAPI, Query, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from cluster.providers.base import Call, ChatProvider, Completion
from cluster.tee import binding, e2ee, eventlog, simulated
from cluster.tee.quote import QuoteFields
from cluster.tee.signature import signed_text
from cluster.wire.openai import ChatCompletionRequest

APP_COMPOSE = json.dumps(
    {
        "manifest_version": 2,
        "name": "cluster-simulated-enclave",
        "runner": "docker-compose",
        "docker_compose_file": "services:\n  model:\n    image: cluster/simulated-enclave:dev\n",
        "kms_enabled": False,
        "note": "SIMULATED: no TEE; for development and tests only",
    },
    indent=4,
)
MAX_SIGNATURES = 10_000
NRAS_KID = "simulated-nras-key"


class SimulatedEnclave:
    def __init__(
        self, provider: ChatProvider, model: str, app_compose: str = APP_COMPOSE, *, gpu: bool = False
    ) -> None:
        """``gpu``: also hand out NRAS-shaped GPU evidence, signed by a simulated NRAS key (its JWKS is served at
        ``/v1/simulated/nras-jwks.json``) — the shape of NVIDIA's, vouching for nothing."""
        self._provider = provider
        self._model = model
        self._account = Account.create()
        self.app_compose = app_compose
        self.compose_hash = hashlib.sha256(app_compose.encode()).digest()
        self.app_id = hashlib.sha256(b"cluster-simulated-enclave").digest()[:20]
        self.mrtd = hashlib.sha384(b"simulated TD image").digest()
        self._e2ee = X25519PrivateKey.generate()
        self.e2ee_public_key = e2ee.public_bytes(self._e2ee)
        self.event_log = _event_log(self.app_id, self.compose_hash, self.e2ee_public_key)
        self._signatures: OrderedDict[str, str] = OrderedDict()
        self.chats = 0  # requests served (tests check that an unverified gateway sent none)
        self._nras = ec.generate_private_key(ec.SECP384R1()) if gpu else None

    @property
    def signing_address(self) -> str:
        return str(self._account.address)

    def report(self, nonce: bytes) -> dict[str, Any]:
        fields = QuoteFields(
            mrtd=self.mrtd,
            rtmr=eventlog.replay(self.event_log),
            mr_config_id=(b"\x01" + self.compose_hash).ljust(48, b"\x00"),
            report_data=binding.expected_report_data(self.signing_address, nonce),
        )
        info = {
            "app_id": self.app_id.hex(),
            "compose_hash": self.compose_hash.hex(),
            "tcb_info": {"app_compose": self.app_compose, "mrtd": self.mrtd.hex()},
            "e2ee_public_key": self.e2ee_public_key.hex(),
            "simulated": True,
        }
        return {
            "signing_address": self.signing_address,
            "signing_algo": "ecdsa",
            "intel_quote": simulated.make_quote(fields).hex(),
            "nvidia_payload": self._gpu_evidence(nonce.hex()) if self._nras else None,
            "event_log": self.event_log,
            "info": info,
        }

    def nras_jwks(self) -> dict[str, Any]:
        if self._nras is None:
            return {"keys": []}
        numbers = self._nras.public_key().public_numbers()
        x, y = (_b64url(n.to_bytes(48, "big")) for n in (numbers.x, numbers.y))
        return {"keys": [{"kty": "EC", "crv": "P-384", "kid": NRAS_KID, "x": x, "y": y}]}

    def _gpu_evidence(self, nonce: str) -> str:
        assert self._nras is not None
        now = int(time.time())
        common = {
            "iss": "simulated-nras (NOT NVIDIA)",
            "nbf": now - 5,
            "iat": now,
            "exp": now + 3600,
            "eat_nonce": nonce,
        }
        platform = {**common, "x-nvidia-overall-att-result": True, "submods": {"GPU-0": ["DIGEST", ["SHA256", "0"]]}}
        gpu = {**common, "measres": "success", "hwmodel": "SIMULATED"}
        return json.dumps([["JWT", _jwt(self._nras, platform)], {"GPU-0": _jwt(self._nras, gpu)}])

    def sign(self, chat_id: str, request: bytes, response: bytes) -> None:
        text = signed_text(request, response)
        signature = Account.sign_message(encode_defunct(text=text), self._account.key).signature
        self._signatures[chat_id] = json.dumps(
            {"text": text, "signature": "0x" + bytes(signature).hex(), "signing_address": self.signing_address,
             "signing_algo": "ecdsa"}
        )  # fmt: skip
        while len(self._signatures) > MAX_SIGNATURES:
            self._signatures.popitem(last=False)

    def signature(self, chat_id: str) -> str | None:
        return self._signatures.get(chat_id)

    async def chat(self, raw: bytes) -> Response:
        self.chats += 1
        payload = orjson.loads(raw)
        client = self._open(payload)  # E2EE: the messages arrive sealed to this enclave's key
        request = ChatCompletionRequest.model_validate(payload)
        result = await self._provider.chat(request, self._model, Call())
        if isinstance(result, Completion):
            body = result.body if client is None else self._seal_completion(result.body, client)
            chat_id = orjson.loads(body)["id"]
            self.sign(chat_id, raw, body)
            return Response(body, media_type="application/json")

        async def events() -> Any:
            sent, chat_id = bytearray(), None
            try:
                async for event in result:
                    if client is not None:
                        event = self._seal_event(event, client)
                    if chat_id is None and event.startswith(b"data: {"):
                        chat_id = orjson.loads(event[6:]).get("id")
                    sent += event
                    yield event
            finally:
                await result.aclose()
            if chat_id is not None:
                self.sign(chat_id, raw, bytes(sent))

        return StreamingResponse(events(), media_type="text/event-stream")

    def _open(self, payload: dict[str, Any]) -> bytes | None:
        """Unseal E2EE messages in place; returns the client's key to seal the answer to (None: plaintext)."""
        client = None
        for message in payload.get("messages", []):
            content = message.get("content")
            if isinstance(content, str) and content.startswith(e2ee.PREFIX):
                message["content"], sender = e2ee.open_sealed(content, self._e2ee, e2ee.REQUEST)
                # one sender per request: a message sealed by someone else (the gateway, say) could otherwise
                # redirect the sealed answer to its own key
                if client is not None and sender != client:
                    raise ValueError("sealed messages from more than one key")
                client = sender
        return client

    def _seal_completion(self, body: bytes, client: bytes) -> bytes:
        data = orjson.loads(body)
        for choice in data.get("choices", []):
            message = choice.get("message") or {}
            if message.get("content"):
                message["content"] = e2ee.seal(message["content"], self._e2ee, client, e2ee.RESPONSE)
        return orjson.dumps(data)

    def _seal_event(self, event: bytes, client: bytes) -> bytes:
        if not event.startswith(b"data: {"):
            return event
        data = orjson.loads(event[6:])
        for choice in data.get("choices", []):
            delta = choice.get("delta") or {}
            if delta.get("content"):
                delta["content"] = e2ee.seal(delta["content"], self._e2ee, client, e2ee.RESPONSE)
        return b"data: " + orjson.dumps(data) + b"\n\n"


def create_enclave_app(enclave: SimulatedEnclave) -> FastAPI:
    app = FastAPI(title="Cluster simulated enclave (NOT a TEE)")

    @app.post("/v1/chat/completions")
    async def chat(request: Request) -> Response:
        return await enclave.chat(await request.body())

    @app.get("/v1/attestation/report")
    async def report(nonce: str = Query(pattern="^[0-9a-fA-F]{64}$"), signing_algo: str = "ecdsa") -> JSONResponse:
        if signing_algo != "ecdsa":
            return JSONResponse({"error": {"message": "only ecdsa here", "type": "invalid_request_error"}}, 400)
        return JSONResponse(enclave.report(bytes.fromhex(nonce)))

    @app.get("/v1/signature/{chat_id}")
    async def signature(chat_id: str) -> Response:
        found = enclave.signature(chat_id)
        if found is None:
            return JSONResponse({"error": {"message": f"no signature for {chat_id}", "type": "not_found"}}, 404)
        return Response(found, media_type="application/json")

    @app.get("/v1/simulated/nras-jwks.json")
    async def nras_jwks() -> dict[str, Any]:
        return enclave.nras_jwks()

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "simulated": "true"}

    return app


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _jwt(key: ec.EllipticCurvePrivateKey, claims: dict[str, Any]) -> str:
    head = _b64url(json.dumps({"kid": NRAS_KID, "alg": "ES384"}).encode()) + "." + _b64url(json.dumps(claims).encode())
    r, s = decode_dss_signature(key.sign(head.encode(), ec.ECDSA(hashes.SHA384())))
    return head + "." + _b64url(r.to_bytes(48, "big") + s.to_bytes(48, "big"))


def local_enclave(gpu: bool = False) -> SimulatedEnclave:
    """The simulated enclave over the bundled chat model."""
    from cluster.providers.local.assets import smollm2_gguf
    from cluster.providers.local.llama_cpp import LlamaCppProvider
    from cluster.settings import LOCAL_CHAT_MODEL

    provider = LlamaCppProvider("enclave", smollm2_gguf(), context=2048, threads=None)
    return SimulatedEnclave(provider, LOCAL_CHAT_MODEL, gpu=gpu)


def _event_log(app_id: bytes, compose_hash: bytes, e2ee_key: bytes) -> list[dict[str, Any]]:
    """Boot measurements for RTMR0-2 (made-up digests, as a simulated TD has no firmware to measure) and dstack's
    RTMR3 events, whose digests are computed from their content exactly as dstack does."""
    events: list[dict[str, Any]] = []
    for imr, name in ((0, "td-hob"), (1, "kernel"), (2, "kernel-cmdline")):
        digest = hashlib.sha384(f"simulated {name}".encode()).hexdigest()
        events.append({"imr": imr, "event_type": 1, "digest": digest, "event": "", "event_payload": ""})
    instance = secrets.token_bytes(20)
    for name, payload in (
        ("system-preparing", b""),
        ("app-id", app_id),
        ("compose-hash", compose_hash),
        ("instance-id", instance),
        ("e2ee-key", e2ee_key),
        ("boot-mr-done", b""),
        ("system-ready", b""),
    ):
        digest = eventlog.dstack_digest(name, payload).hex()
        events.append(
            {
                "imr": 3,
                "event_type": eventlog.DSTACK_EVENT_TYPE,
                "digest": digest,
                "event": name,
                "event_payload": payload.hex(),
            }
        )
    return events
