"""Buying a dataset through the gateway with x402: the buyer pays the service's signer the dataset's price
(verified, claimed, settled like any x402 payment), and the signer buys on chain for the buyer with
``PaymentRouter.purchaseFor``, so the split (85/10/5) happens on chain as for any purchase and access follows
the chain. If the on-chain purchase fails after the payment settled, the money stays on the payer's balance."""

from __future__ import annotations

from typing import Any

from cluster.chain.service import ChainService
from cluster.errors import Conflict, InvalidRequest, ServiceUnavailable
from cluster.marketplace.models import DatasetRow
from cluster.payments.payment import X402Payment

ZERO = "0x0000000000000000000000000000000000000000"
MAX_ALLOWANCE = 2**256 - 1


async def buy_with_x402(
    chain: ChainService, row: DatasetRow, payment: X402Payment, referrer: str | None
) -> dict[str, Any]:
    contracts, signer = chain.contracts, chain.client.signer
    if signer is None or row.token_id is None:
        raise ServiceUnavailable("purchases through the gateway need the service's chain signer")
    price = await contracts.registry.price_of(row.token_id)
    if price == 0:
        raise InvalidRequest(f"{row.slug!r} is not for sale", code="not_for_sale")
    requirements = await payment.claim(price, pay_to=signer.address)
    if await contracts.router.has_access(payment.payer, row.token_id):
        raise Conflict(f"{payment.payer} already has access to {row.slug!r}", code="already_purchased")
    result = await payment.settle_now(requirements)
    try:
        if await contracts.usdc.allowance(signer.address, contracts.router.address) < price:
            await contracts.usdc.approve(contracts.router.address, MAX_ALLOWANCE)
        receipt = await contracts.router.purchase_for(row.token_id, payment.payer, referrer or ZERO)
    except BaseException:
        await payment.cancel()  # what the payer paid stays on its balance
        raise
    await payment.passed_on(result, receipt.tx_hash)
    return {
        "object": "dataset.purchase",
        "slug": row.slug,
        "token_id": row.token_id,
        "buyer": payment.payer,
        "price": price,
        "payment_tx": result.transaction,
        "purchase_tx": receipt.tx_hash,
    }
