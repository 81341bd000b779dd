"""One request paid with x402: verified and claimed before it is served, settled on chain while it runs.

Order of events (``authorize`` → serve → ``settle``):

1. No payment header: 402 with the price (the request's worst-case cost) as payment requirements.
2. Verify: scheme, network, asset, ``payTo``, amount (at least the price), the validity window with a safety
   margin, the signature (recovered in-process), and a simulated ``transferWithAuthorization``, which also
   catches a used nonce or a short balance. Any failure: 402 with the spec's ``invalidReason``.
3. Claim the authorization in the database (unique per chain, payer and nonce), so the same signature cannot
   be served twice, even by two processes at once.
4. Settlement starts at once, concurrently with the inference.
5. ``settle(cost)`` waits for it. Settled: the ledger records the payment, charges ``cost`` and keeps the
   rest on the payer's balance; the ``PAYMENT-RESPONSE`` header (or, for a stream, a trailing SSE comment)
   says so. Failed: the response (or the stream) ends with a payment error and nothing is recorded as paid.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from x402.schemas import PaymentPayload, PaymentRequirements, SettleResponse
from x402.schemas.v1 import PaymentPayloadV1

from cluster.errors import ClusterError, X402Required
from cluster.payments import reasons, wire
from cluster.payments.wire import ExactPayload, MalformedPayment

if TYPE_CHECKING:
    from cluster.gateway.context import RequestContext
    from cluster.payments.service import X402Service

log = logging.getLogger(__name__)


class X402Payment:
    charged: int = 0

    def __init__(
        self, service: X402Service, ctx: RequestContext, resource: str, header: tuple[str, int] | None
    ) -> None:
        self._service = service
        self._ctx = ctx
        self._resource = resource
        self._header = header
        self._version = header[1] if header else 2
        self._exact: ExactPayload | None = None
        self._payload: PaymentPayload | None = None
        self._payment_id: str | None = None
        self._settlement: asyncio.Task[SettleResponse] | None = None
        self._receipt: str | None = None  # the encoded settle response, once known

    async def authorize(self, amount: int) -> None:
        if amount == 0:
            return  # a free model costs nothing: there is nothing to pay
        requirements = await self.claim(amount)
        self._settlement = asyncio.create_task(self._service.facilitator.settle(self._payload, requirements))  # type: ignore[arg-type]

    async def claim(self, amount: int, pay_to: str | None = None) -> PaymentRequirements:
        """Steps 1-3: the payment this request carries, verified for ``amount`` to ``pay_to`` and claimed.
        Raises the 402 that says what is missing or wrong."""
        service = self._service
        if self._header is None:
            raise service.required(
                amount, self._resource, "Payment required: send an API key or an x402 payment", pay_to=pay_to
            )
        requirements = service.requirements(amount, pay_to)
        try:
            self._payload, self._exact = self._parse(self._header[0], requirements)
        except MalformedPayment as error:
            raise service.required(amount, self._resource, str(error), reasons.INVALID_PAYLOAD, pay_to) from None
        except _Refused as refused:
            raise service.required(amount, self._resource, refused.message, refused.reason, pay_to) from None
        verdict = await service.facilitator.verify(self._payload, requirements, allow_overpay=True)
        if not verdict.is_valid:
            reason = verdict.invalid_reason or "invalid_payment"
            message = f"x402 payment refused: {reason}" + (
                f" ({verdict.invalid_message})" if verdict.invalid_message else ""
            )
            raise service.required(amount, self._resource, message, reason, pay_to)
        auth = self._exact.authorization
        self._payment_id = await service.reserve(self._exact.payer, auth.nonce, auth.value, self._ctx.id)
        if self._payment_id is None:
            raise service.required(
                amount, self._resource, "this authorization was already used", reasons.NONCE_ALREADY_USED, pay_to
            )
        self._ctx.user_id = self._exact.payer
        return requirements

    @property
    def payer(self) -> str:
        assert self._exact is not None, "claim() first"
        return self._exact.payer

    async def settle_now(self, requirements: PaymentRequirements) -> SettleResponse:
        """Settle a claimed payment and wait for it (a purchase needs the funds before it can buy)."""
        assert self._payload is not None
        self._settlement = asyncio.create_task(self._service.facilitator.settle(self._payload, requirements))
        result = await self._settled()
        assert result is not None
        if not result.success:
            await self._service.mark(self._payment_id or "", "failed", error=result.error_reason)
            raise self._failure(result)
        return result

    async def passed_on(self, result: SettleResponse, tx_hash: str) -> None:
        """The payment went on to a purchase on chain (``tx_hash``): recorded as spent in full, nothing kept."""
        assert self._exact is not None and self._payment_id is not None
        self.charged = self._exact.authorization.value
        await self._service.mark(self._payment_id, "settled", tx_hash=result.transaction, cost=self.charged)
        receipt = result.model_copy(update={"extra": {"paid": self.charged, "purchase": tx_hash}})
        self._publish(receipt)

    async def settle(self, cost: int) -> None:
        result = await self._settled()
        if result is None:
            return
        if not result.success:
            await self._service.mark(self._payment_id or "", "failed", error=result.error_reason)
            raise self._failure(result)
        await self._record(result, cost)

    async def cancel(self) -> None:
        """Nothing was served. The transfer was already on its way, so what arrived stays on the payer's balance."""
        result = await self._settled()
        if result is not None and result.success:
            await self._record(result, 0)
        elif result is not None:
            await self._service.mark(self._payment_id or "", "failed", error=result.error_reason)

    def trailer(self) -> bytes | None:
        """For a stream, whose headers left before settlement finished: the settle response as an SSE comment."""
        if self._receipt is None:
            return None
        name = wire.PAYMENT_RESPONSE if self._version == 2 else wire.X_PAYMENT_RESPONSE
        return f": {name.lower()} {self._receipt}\n\n".encode()

    # -- internals ----------------------------------------------------------------------------------------
    def _parse(self, header: str, requirements: PaymentRequirements) -> tuple[PaymentPayload, ExactPayload]:
        decoded = wire.decode_payment(header)
        network = self._service.network
        if isinstance(decoded, PaymentPayloadV1):
            if decoded.scheme != "exact":
                raise _Refused(reasons.UNSUPPORTED_SCHEME, f"scheme {decoded.scheme!r} is not offered")
            if wire.chain_id_of(decoded.network) != self._service.chain_id:
                raise _Refused(reasons.NETWORK_MISMATCH, f"network {decoded.network!r} is not {network}")
            payload = PaymentPayload(x402_version=1, payload=decoded.payload, accepted=requirements)
        else:
            payload = decoded
            if payload.accepted.network != network:
                raise _Refused(reasons.NETWORK_MISMATCH, f"network {payload.accepted.network!r} is not {network}")
        return payload, ExactPayload.parse(payload.payload)

    async def _settled(self) -> SettleResponse | None:
        if self._settlement is None:
            return None
        try:
            return await asyncio.shield(self._settlement)
        except Exception as error:  # the facilitator itself failed (not a refusal)
            log.exception("x402 settlement crashed")
            return SettleResponse(
                success=False,
                error_reason=reasons.CHAIN_UNAVAILABLE,
                error_message=str(error),
                transaction="",
                network=self._service.network,
            )

    async def _record(self, result: SettleResponse, cost: int) -> None:
        assert self._exact is not None and self._payment_id is not None
        auth = self._exact.authorization
        paid = auth.value
        charged = min(cost, paid)  # the price bounds the cost; never charge past what was paid
        service = self._service
        key = f"{service.chain_id}:{self._exact.payer}:{auth.nonce.lower()}"
        # The money and the payment's record are independent writes: both must land, neither waits for the other.
        await asyncio.gather(
            service.billing.record_x402(self._exact.payer, paid, charged, key, f"x402 {result.transaction}"),
            service.mark(self._payment_id, "settled", tx_hash=result.transaction, cost=charged),
        )
        self.charged = charged
        self._publish(
            result.model_copy(update={"extra": {"paid": paid, "charged": charged, "credited": paid - charged}})
        )

    def _publish(self, receipt: SettleResponse) -> None:
        self._receipt = wire.encode(receipt)
        name = wire.PAYMENT_RESPONSE if self._version == 2 else wire.X_PAYMENT_RESPONSE
        self._ctx.headers[name] = self._receipt
        self._ctx.headers["access-control-expose-headers"] = wire.EXPOSE

    def _failure(self, result: SettleResponse) -> X402Required:
        message = f"x402 settlement failed: {result.error_reason}" + (
            f" ({result.error_message})" if result.error_message else ""
        )
        amount = self._exact.authorization.value if self._exact else 0
        return self._service.required(
            amount, self._resource, message, result.error_reason or reasons.TRANSACTION_FAILED
        )


class _Refused(ClusterError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
