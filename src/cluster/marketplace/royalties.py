"""Royalties: a model derived from a marketplace dataset (``lineage`` in its catalog entry) owes the dataset
``royalty_bps`` of every billed call. The calls are the request log's (status 200, a charge, a payer); a payout
sums the unpaid ones per dataset — each call's share floored to the micro-USDC, so the sum is exact — and sends
it in one USDC transfer to whoever holds the dataset's NFT at that moment.

Exactly once: the calls a payout covers are claimed (``royalty_calls``, one row per request) in the same
transaction that creates the payout; the signed transaction is recorded before it is broadcast; a payout left
pending by a crash is settled from its receipt, re-broadcast, or released so its calls can be paid again.
"""

from __future__ import annotations

import logging
import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.chain.rpc import JsonRpc
from cluster.chain.service import ChainService
from cluster.chain.transfers import Transfers, erc20_transfer_calldata
from cluster.errors import ClusterError, TransactionReverted
from cluster.marketplace.models import DatasetRow, RoyaltyCall, RoyaltyPayout
from cluster.metering.models import RequestLog
from cluster.settings import Lineage

log = logging.getLogger(__name__)
TRANSFER_GAS = 100_000


class Royalties:
    def __init__(
        self,
        engine: AsyncEngine,
        chain: ChainService,
        lineage: dict[str, Lineage],
        derived: Callable[[], Awaitable[dict[str, Lineage]]] | None = None,
    ) -> None:
        """``lineage``: configured models; ``derived()``: models that appear at run time (fine-tunes)."""
        self._engine = engine
        self._chain = chain
        self._rpc = JsonRpc(chain.client.rpc_url)
        self._transfers = Transfers(self._rpc, chain.contracts.usdc.address, chain.client.chain_id, chain.client.signer)
        self._configured = lineage
        self._derived = derived

    async def _by_dataset(self) -> dict[str, dict[str, int]]:
        """dataset slug -> {model: royalty bps}"""
        lineage = {**(await self._derived() if self._derived else {}), **self._configured}
        grouped: dict[str, dict[str, int]] = defaultdict(dict)
        for model, source in lineage.items():
            if source.dataset is not None:
                grouped[source.dataset][model] = source.royalty_bps
        return grouped

    async def aclose(self) -> None:
        await self._rpc.aclose()

    async def payout(self) -> list[dict[str, Any]]:
        """Pay every dataset's unpaid royalties; returns the payouts made."""
        await self.reconcile()
        made = []
        for slug, models in (await self._by_dataset()).items():
            payout = await self._pay(slug, models)
            if payout is not None:
                made.append(payout)
        return made

    async def pending(self) -> dict[str, int]:
        """dataset slug -> royalties accrued by billed calls and not paid yet (micro-USDC)."""
        owed = {}
        for slug, models in (await self._by_dataset()).items():
            amount = sum(share for _, share in await self._unpaid(models))
            if amount:
                owed[slug] = amount
        return owed

    async def _unpaid(self, models: dict[str, int]) -> list[tuple[str, int]]:
        """(request id, share) of every billed call of ``models`` no payout has claimed."""
        async with self._engine.connect() as connection:
            calls = (
                await connection.execute(
                    select(RequestLog.id, RequestLog.model, RequestLog.cost).where(
                        RequestLog.model.in_(list(models)),
                        RequestLog.status == 200,
                        RequestLog.cost > 0,
                        RequestLog.user_id.is_not(None),
                        RequestLog.id.not_in(select(RoyaltyCall.request_id)),
                    )
                )
            ).all()
        return [(request_id, cost * models[model] // 10_000) for request_id, model, cost in calls]

    async def _pay(self, slug: str, models: dict[str, int]) -> dict[str, Any] | None:
        async with self._engine.connect() as connection:
            token_id = (await connection.execute(select(DatasetRow.token_id).where(DatasetRow.slug == slug))).scalar()
        shares = await self._unpaid(models)
        amount = sum(share for _, share in shares)
        if token_id is None or amount == 0:
            return None
        contracts = self._chain.contracts
        try:
            holder = await contracts.nft.owner_of(token_id)
        except TransactionReverted:
            log.warning("dataset %s is retired: its royalties stay unpaid", slug)
            return None
        payout_id = f"roy_{uuid.uuid4().hex[:20]}"
        try:
            async with self._engine.begin() as connection:
                await connection.execute(
                    insert(RoyaltyPayout).values(
                        id=payout_id,
                        chain_id=self._chain.client.chain_id,
                        dataset_slug=slug,
                        token_id=token_id,
                        holder=holder.lower(),
                        amount=amount,
                        calls=len(shares),
                        status="pending",
                        created_at=datetime.now(UTC),
                    )
                )
                await connection.execute(
                    insert(RoyaltyCall), [{"request_id": r, "payout_id": payout_id, "amount": a} for r, a in shares]
                )
        except IntegrityError:  # another payout claimed some of these calls first
            return None

        async def record(tx_hash: str, raw: bytes) -> None:
            await self._set(payout_id, tx_hash=tx_hash, raw_tx=raw.hex())

        try:
            receipt = await self._transfers.send(
                contracts.usdc.address, erc20_transfer_calldata(holder, amount), TRANSFER_GAS, record
            )
        except ClusterError:
            await self._release(payout_id)
            raise
        await self._set(payout_id, status="paid", paid_at=datetime.now(UTC))
        return {
            "object": "royalty.payout",
            "id": payout_id,
            "dataset": slug,
            "token_id": token_id,
            "holder": holder,
            "amount": amount,
            "calls": len(shares),
            "tx_hash": receipt["transactionHash"],
        }

    async def reconcile(self) -> None:
        """Payouts a crash left pending: paid if their transaction was mined, re-broadcast if it is unknown,
        released (their calls payable again) if it failed or never went out."""
        async with self._engine.connect() as connection:
            pending = (await connection.execute(select(RoyaltyPayout).where(RoyaltyPayout.status == "pending"))).all()
        for payout in pending:
            if payout.tx_hash is None:
                await self._release(payout.id)  # recorded before sending: nothing was sent
                continue
            receipt = await self._rpc.call("eth_getTransactionReceipt", payout.tx_hash)
            if receipt is None and payout.raw_tx:
                try:
                    await self._rpc.call("eth_sendRawTransaction", "0x" + payout.raw_tx)
                    receipt = await self._rpc.receipt(payout.tx_hash)
                except ClusterError:
                    receipt = None
            if receipt is not None and int(receipt["status"], 16) == 1:
                await self._set(payout.id, status="paid", paid_at=datetime.now(UTC))
            else:
                await self._release(payout.id)

    async def _set(self, payout_id: str, **values: Any) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(update(RoyaltyPayout).where(RoyaltyPayout.id == payout_id).values(**values))

    async def _release(self, payout_id: str) -> None:
        async with self._engine.begin() as connection:
            await connection.execute(delete(RoyaltyCall).where(RoyaltyCall.payout_id == payout_id))
            await connection.execute(update(RoyaltyPayout).where(RoyaltyPayout.id == payout_id).values(status="failed"))
