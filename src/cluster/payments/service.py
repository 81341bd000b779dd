"""x402 as the gateway uses it: quoting a price as payment requirements, opening a request's payment from
its headers, keeping the record of every payment, and the facilitator behind it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.datastructures import Headers
from x402.schemas import PaymentRequired, PaymentRequirements, ResourceInfo
from x402.schemas.v1 import PaymentRequiredV1, PaymentRequirementsV1

from cluster.billing import BillingService
from cluster.chain.rpc import JsonRpc
from cluster.chain.service import ChainService
from cluster.chain.transfers import Transfers
from cluster.db.engine import insert_ignore
from cluster.errors import X402Required
from cluster.metering.metrics import Metrics
from cluster.payments import wire
from cluster.payments.facilitator import Facilitator, LocalFacilitator, MeteredFacilitator, RemoteFacilitator
from cluster.payments.models import X402PaymentRow
from cluster.settings import X402Settings


class X402Service:
    def __init__(
        self,
        settings: X402Settings,
        engine: AsyncEngine,
        billing: BillingService,
        facilitator: Facilitator,
        *,
        chain_id: int,
        asset: str,
        pay_to: str,
        domain: tuple[str, str],
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.billing = billing
        self.facilitator = facilitator
        self.chain_id = chain_id
        self.network = wire.caip2(chain_id)
        self.asset = asset
        self.pay_to = pay_to
        self.domain_name, self.domain_version = domain

    @classmethod
    @asynccontextmanager
    async def running(
        cls,
        settings: X402Settings,
        engine: AsyncEngine,
        billing: BillingService,
        chain: ChainService,
        metrics: Metrics | None = None,
    ) -> AsyncIterator[X402Service]:
        """The service over its facilitator (in-process, or remote), which is closed when the block ends."""
        usdc = chain.contracts.usdc
        domain = await usdc.eip712_domain()
        pay_to = settings.pay_to or chain.contracts.addresses.treasury
        if not pay_to:
            raise ValueError("x402 needs x402.pay_to (or a treasury in chain.addresses)")
        facilitator: Facilitator
        if settings.facilitator_url:
            key = settings.facilitator_key.get_secret_value() if settings.facilitator_key else None
            facilitator = RemoteFacilitator(settings.facilitator_url, wire.caip2(chain.client.chain_id), key)
        else:
            rpc = JsonRpc(chain.client.rpc_url)
            transfers = Transfers(rpc, usdc.address, chain.client.chain_id, chain.client.signer)
            facilitator = LocalFacilitator(chain.client, usdc, transfers, rpc, safety_margin=settings.safety_margin)
        if metrics is not None:
            facilitator = MeteredFacilitator(facilitator, metrics)
        try:
            yield cls(
                settings,
                engine,
                billing,
                facilitator,
                chain_id=chain.client.chain_id,
                asset=usdc.address,
                pay_to=chain.client.w3.to_checksum_address(pay_to),
                domain=domain,
            )
        finally:
            await facilitator.aclose()

    # -- quoting ----------------------------------------------------------------------------------------
    def requirements(self, amount: int, pay_to: str | None = None) -> PaymentRequirements:
        return PaymentRequirements(
            scheme="exact",
            network=self.network,
            asset=self.asset,
            amount=str(amount),
            pay_to=pay_to or self.pay_to,
            max_timeout_seconds=self.settings.max_timeout_seconds,
            extra={"name": self.domain_name, "version": self.domain_version},
        )

    def requirements_v1(self, amount: int, resource: str, pay_to: str | None = None) -> PaymentRequirementsV1:
        return PaymentRequirementsV1(
            scheme="exact",
            network=wire.v1_network(self.chain_id),
            max_amount_required=str(amount),
            resource=resource,
            description="Cluster inference, paid per request",
            mime_type="application/json",
            pay_to=pay_to or self.pay_to,
            max_timeout_seconds=self.settings.max_timeout_seconds,
            asset=self.asset,
            extra={"name": self.domain_name, "version": self.domain_version},
        )

    def required(
        self, amount: int, resource: str, message: str, reason: str | None = None, pay_to: str | None = None
    ) -> X402Required:
        """The 402 that asks for ``amount`` (micro-USDC) for ``resource``: v2 in the header, v1 in the body."""
        v2 = PaymentRequired(
            error=reason or message,
            resource=ResourceInfo(url=resource, description="Cluster inference", mime_type="application/json"),
            accepts=[self.requirements(amount, pay_to)],
        )
        v1 = PaymentRequiredV1(error=reason or message, accepts=[self.requirements_v1(amount, resource, pay_to)])
        headers = {wire.PAYMENT_REQUIRED: wire.encode(v2), "access-control-expose-headers": wire.EXPOSE}
        body = v1.model_dump(by_alias=True, exclude_none=True)
        return X402Required(message, body=body, headers=headers, reason=reason)

    @staticmethod
    def payment_header(headers: Headers) -> tuple[str, int] | None:
        """(header value, x402 version) of the payment a request carries, if any."""
        if (value := headers.get(wire.PAYMENT_SIGNATURE)) is not None:
            return value, 2
        if (value := headers.get(wire.X_PAYMENT)) is not None:
            return value, 1
        return None

    # -- the record --------------------------------------------------------------------------------------
    async def reserve(self, payer: str, nonce: str, value: int, request_id: str) -> str | None:
        """Claim the authorization for this request; None if it is (or was) claimed already."""
        payment_id = f"x402_{uuid.uuid4().hex[:20]}"
        async with self.engine.begin() as connection:
            claimed = await connection.execute(
                insert_ignore(connection.dialect.name, X402PaymentRow.__table__).values(  # type: ignore[arg-type]
                    id=payment_id,
                    chain_id=self.chain_id,
                    payer=payer,
                    nonce=nonce.lower(),
                    value=value,
                    pay_to=self.pay_to,
                    request_id=request_id,
                    status="reserved",
                    created_at=datetime.now(UTC),
                )
            )
        return payment_id if claimed.rowcount else None

    async def mark(
        self,
        payment_id: str,
        status: str,
        *,
        tx_hash: str | None = None,
        cost: int | None = None,
        error: str | None = None,
    ) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(
                update(X402PaymentRow)
                .where(X402PaymentRow.id == payment_id)
                .values(
                    status=status,
                    tx_hash=tx_hash or None,
                    cost=cost,
                    error=(error or None) and error[:200],
                    settled_at=datetime.now(UTC),
                )
            )
