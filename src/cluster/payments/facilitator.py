"""Verifying and settling x402 `exact` payments: in-process on the configured chain, or at a remote
facilitator. Both speak the spec's request/response models, so the gateway does not know which it uses."""

from __future__ import annotations

import time
from typing import Protocol

import aiohttp
from x402.schemas import (
    PaymentPayload,
    PaymentRequirements,
    SettleResponse,
    SupportedKind,
    SupportedResponse,
    VerifyRequest,
    VerifyResponse,
)

from cluster.chain.client import ChainClient
from cluster.chain.contracts import Usdc
from cluster.chain.eip3009 import recover_authorization, usdc_domain
from cluster.chain.rpc import JsonRpc
from cluster.chain.transfers import Transfers
from cluster.errors import ClusterError, TransactionReverted
from cluster.metering.metrics import Metrics
from cluster.payments import reasons
from cluster.payments.wire import ExactPayload, MalformedPayment, caip2, chain_id_of, v1_network

# transferWithAuthorization costs ~60-80k gas on USDC; a fixed limit skips an estimate round trip per settle
# (verification already simulated the call).
SETTLE_GAS = 150_000


class Facilitator(Protocol):
    async def verify(
        self, payload: PaymentPayload, requirements: PaymentRequirements, *, allow_overpay: bool = False
    ) -> VerifyResponse: ...

    async def settle(self, payload: PaymentPayload, requirements: PaymentRequirements) -> SettleResponse: ...

    def supported(self) -> SupportedResponse: ...

    async def aclose(self) -> None: ...


def _invalid(reason: str, payer: str | None, message: str | None = None) -> VerifyResponse:
    return VerifyResponse(is_valid=False, invalid_reason=reason, invalid_message=message, payer=payer)


class LocalFacilitator:
    """Verifies locally (checks, then the signature recovered in-process, then one simulated
    ``transferWithAuthorization``) and settles by sending that transfer from the service's signer."""

    def __init__(
        self, client: ChainClient, usdc: Usdc, transfers: Transfers, rpc: JsonRpc, *, safety_margin: int
    ) -> None:
        self._client = client
        self._rpc = rpc
        self._usdc = usdc
        self._transfers = transfers
        self._margin = safety_margin
        self.network = caip2(client.chain_id)

    async def verify(
        self, payload: PaymentPayload, requirements: PaymentRequirements, *, allow_overpay: bool = False
    ) -> VerifyResponse:
        try:
            exact = ExactPayload.parse(payload.payload)
        except MalformedPayment as error:
            return _invalid(reasons.INVALID_PAYLOAD, None, str(error))
        payer = exact.authorization.from_
        auth = exact.authorization
        if payload.accepted.scheme != "exact" or requirements.scheme != "exact":
            return _invalid(reasons.UNSUPPORTED_SCHEME, payer)
        if (
            payload.accepted.network != requirements.network
            or chain_id_of(requirements.network) != self._client.chain_id
        ):
            return _invalid(reasons.NETWORK_MISMATCH, payer)
        if requirements.asset.lower() != self._usdc.address.lower():
            return _invalid(reasons.UNKNOWN_ASSET, payer, f"this facilitator settles {self._usdc.address} only")
        if auth.to.lower() != requirements.pay_to.lower():
            return _invalid(reasons.RECIPIENT_MISMATCH, payer)
        amount = int(requirements.amount)
        if auth.value < amount or (not allow_overpay and auth.value != amount):
            return _invalid(reasons.VALUE_MISMATCH, payer, f"authorized {auth.value}, required {amount}")
        now = int(time.time())
        if auth.valid_before < now + self._margin:
            return _invalid(reasons.VALID_BEFORE_EXPIRED, payer)
        if auth.valid_after > now:
            return _invalid(reasons.VALID_AFTER_FUTURE, payer)
        extra = requirements.extra or {}
        domain = usdc_domain(
            self._client.chain_id, requirements.asset, extra.get("name", "USDC"), extra.get("version", "2")
        )
        signer = recover_authorization(domain, exact.transfer, exact.signature_bytes)
        if signer != exact.payer and not await self._is_contract(payer):
            # An EOA's signature must recover to it; a smart wallet (ERC-1271) is judged by the simulation.
            return _invalid(reasons.INVALID_SIGNATURE, payer)
        try:
            await self._transfers.simulate(exact.transfer, exact.signature_bytes, self._sender)
        except TransactionReverted as error:
            return _invalid(reasons.from_revert(error.reason), payer, error.reason)
        return VerifyResponse(is_valid=True, payer=payer)

    async def settle(self, payload: PaymentPayload, requirements: PaymentRequirements) -> SettleResponse:
        exact = ExactPayload.parse(payload.payload)
        network = requirements.network
        try:
            receipt = await self._transfers.submit(exact.transfer, exact.signature_bytes, gas=SETTLE_GAS)
        except TransactionReverted as error:
            return SettleResponse(
                success=False,
                error_reason=reasons.from_revert(error.reason),
                error_message=error.reason,
                payer=exact.authorization.from_,
                transaction=error.tx_hash or "",
                network=network,
            )
        except ClusterError as error:
            return SettleResponse(
                success=False,
                error_reason=reasons.CHAIN_UNAVAILABLE,
                error_message=error.message,
                payer=exact.authorization.from_,
                transaction="",
                network=network,
            )
        return SettleResponse(
            success=True,
            payer=exact.authorization.from_,
            transaction=receipt["transactionHash"],
            network=network,
            amount=str(exact.authorization.value),
        )

    def supported(self) -> SupportedResponse:
        kinds = [SupportedKind(x402_version=2, scheme="exact", network=self.network)]
        kinds.append(SupportedKind(x402_version=1, scheme="exact", network=v1_network(self._client.chain_id)))
        signers = {"eip155:*": [self._sender]} if self._client.signer else {}
        return SupportedResponse(kinds=kinds, signers=signers)

    async def aclose(self) -> None:
        await self._rpc.aclose()

    @property
    def _sender(self) -> str:
        return self._client.signer.address if self._client.signer else self._usdc.address

    async def _is_contract(self, address: str) -> bool:
        return str(await self._rpc.call("eth_getCode", address, "latest")) not in ("0x", "0x0", "")


class RemoteFacilitator:
    """A facilitator elsewhere (``x402.facilitator_url``), over the spec's HTTP API."""

    def __init__(self, url: str, network: str, key: str | None = None) -> None:
        self._url = url.rstrip("/")
        headers = {"authorization": f"Bearer {key}"} if key else {}
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60), headers=headers)
        self.network = network
        self._supported: SupportedResponse | None = None

    async def verify(
        self, payload: PaymentPayload, requirements: PaymentRequirements, *, allow_overpay: bool = False
    ) -> VerifyResponse:
        if allow_overpay:  # the spec's facilitators want the exact amount: ask for what was authorized
            requirements = _at_authorized_amount(payload, requirements)
        return VerifyResponse.model_validate(await self._post("verify", payload, requirements))

    async def settle(self, payload: PaymentPayload, requirements: PaymentRequirements) -> SettleResponse:
        requirements = _at_authorized_amount(payload, requirements)
        return SettleResponse.model_validate(await self._post("settle", payload, requirements))

    def supported(self) -> SupportedResponse:
        return self._supported or SupportedResponse(
            kinds=[SupportedKind(x402_version=2, scheme="exact", network=self.network)]
        )

    async def aclose(self) -> None:
        await self._session.close()

    async def _post(self, path: str, payload: PaymentPayload, requirements: PaymentRequirements) -> object:
        body = VerifyRequest(x402_version=2, payment_payload=payload, payment_requirements=requirements)
        try:
            async with self._session.post(
                f"{self._url}/{path}",
                data=body.model_dump_json(by_alias=True, exclude_none=True),
                headers={"content-type": "application/json"},
            ) as response:
                if response.status != 200:
                    raise ClusterError(
                        f"the x402 facilitator at {self._url} answered {response.status}: {await response.text()}"
                    )
                return await response.json()
        except (aiohttp.ClientError, TimeoutError) as error:
            raise ClusterError(f"the x402 facilitator at {self._url} failed: {error}") from error


def _at_authorized_amount(payload: PaymentPayload, requirements: PaymentRequirements) -> PaymentRequirements:
    try:
        value = ExactPayload.parse(payload.payload).authorization.value
    except MalformedPayment:
        return requirements
    if value >= int(requirements.amount):
        return requirements.model_copy(update={"amount": str(value)})
    return requirements


class MeteredFacilitator:
    """A facilitator whose verify and settle are counted and timed (``cluster_x402_*`` on ``/metrics``), around
    either implementation: the same protocol, so nothing else knows."""

    def __init__(self, inner: Facilitator, metrics: Metrics) -> None:
        self._inner = inner
        self._outcomes = metrics.counter("cluster_x402", "x402 verifications and settlements", ["op", "outcome"])
        self._latency = metrics.histogram("cluster_x402_duration_seconds", "x402 verify and settle time", ["op"])

    async def verify(
        self, payload: PaymentPayload, requirements: PaymentRequirements, *, allow_overpay: bool = False
    ) -> VerifyResponse:
        started = time.perf_counter()
        verdict = await self._inner.verify(payload, requirements, allow_overpay=allow_overpay)
        self._observe("verify", "valid" if verdict.is_valid else "invalid", started)
        return verdict

    async def settle(self, payload: PaymentPayload, requirements: PaymentRequirements) -> SettleResponse:
        started = time.perf_counter()
        try:
            settled = await self._inner.settle(payload, requirements)
        except Exception:
            self._observe("settle", "error", started)
            raise
        self._observe("settle", "success" if settled.success else "failure", started)
        return settled

    def supported(self) -> SupportedResponse:
        return self._inner.supported()

    async def aclose(self) -> None:
        await self._inner.aclose()

    def _observe(self, op: str, outcome: str, started: float) -> None:
        self._outcomes.labels(op, outcome).inc()
        self._latency.labels(op).observe(time.perf_counter() - started)
