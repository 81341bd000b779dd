"""A creator's view of the marketplace: their datasets (listed or not) and the sales of them, from the index."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.chain.models import ChainPurchase
from cluster.marketplace.models import DatasetRow
from cluster.marketplace.protocol import SaleList, SaleObject


async def created_by(engine: AsyncEngine, user_id: str) -> list[Row[Any]]:
    """``datasets`` rows (through Core: Rows with the model's column names), newest first."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(DatasetRow).where(DatasetRow.creator_id == user_id).order_by(DatasetRow.created_at.desc())
        )
        return list(rows.all())


async def sales_to(engine: AsyncEngine, chain_id: int, wallets: list[str], limit: int = 200) -> SaleList:
    """Purchases whose 85% went to one of ``wallets`` (the holder when sold), newest first."""
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(ChainPurchase.__table__, DatasetRow.slug.label("slug"))
            .join(
                DatasetRow,
                (DatasetRow.token_id == ChainPurchase.dataset_id) & (DatasetRow.chain_id == ChainPurchase.chain_id),
                isouter=True,
            )
            .where(ChainPurchase.chain_id == chain_id, func.lower(ChainPurchase.beneficiary).in_(wallets))
            .order_by(ChainPurchase.block_number.desc(), ChainPurchase.log_index.desc())
            .limit(limit)
        )
        data = [
            SaleObject(
                slug=sale.slug,
                token_id=sale.dataset_id,
                buyer=sale.buyer.lower(),
                price=sale.price,
                received=sale.creator_amount,
                referrer_amount=sale.referrer_amount,
                block_number=sale.block_number,
                tx_hash=sale.tx_hash,
            )
            for sale in rows.all()
        ]
    return SaleList(data=data)


async def bought_by(engine: AsyncEngine, chain_id: int, wallets: list[str]) -> list[Row[Any]]:
    """``datasets`` rows ``wallets`` bought on this chain (from the index), newest purchase first."""
    bought = (
        select(ChainPurchase.dataset_id, func.max(ChainPurchase.block_number).label("block"))
        .where(ChainPurchase.chain_id == chain_id, func.lower(ChainPurchase.buyer).in_(wallets))
        .group_by(ChainPurchase.dataset_id)
        .subquery()
    )
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(DatasetRow)
            .join(bought, bought.c.dataset_id == DatasetRow.token_id)
            .where(DatasetRow.chain_id == chain_id)
            .order_by(bought.c.block.desc())
        )
        return list(rows.all())
