"""Datasets from upload to download: validate, encrypt + content-address + store (one pass, off the loop),
publish the listing metadata under its own CID, mint the NFT to the creator's wallet with the slug and price;
then serve each caller at the access level the chain gives them."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.auth import Principal
from cluster.chain.models import ChainPurchase
from cluster.chain.protocol import WalletCalls
from cluster.chain.service import ChainService
from cluster.errors import Conflict, NotFound, PermissionDenied, TransactionReverted, Unauthorized
from cluster.marketplace import content, sales
from cluster.marketplace.formats import detect, inspect
from cluster.marketplace.models import DatasetRow, RoyaltyPayout
from cluster.marketplace.protocol import (
    Access,
    DatasetCreate,
    DatasetEarnings,
    DatasetList,
    DatasetObject,
    DatasetUpdate,
    Earnings,
    PreviewObject,
    SaleList,
)
from cluster.marketplace.purchase import ZERO, buy_with_x402
from cluster.marketplace.wallets import SignedWallet, Wallets
from cluster.payments.payment import X402Payment
from cluster.settings import StorageSettings
from cluster.storage.assembly import Storage
from cluster.storage.blockstore import read_range
from cluster.storage.cid import CID
from cluster.storage.encryption import new_key
from cluster.storage.pipeline import store_encrypted
from cluster.storage.unixfs import UnixfsBuilder

Viewer = Principal | SignedWallet | None  # an account, a wallet that signed for the dataset, or anonymous
#: each then by id, so pages of equal keys neither repeat nor skip a row
_SORTS: dict[str, Any] = {
    "newest": DatasetRow.created_at.desc(),
    "price": DatasetRow.price.asc(),
    "name": DatasetRow.name.asc(),
}


class Marketplace:
    def __init__(
        self,
        engine: AsyncEngine,
        settings: StorageSettings,
        storage: Storage,
        wallets: Wallets,
        chain: ChainService,
    ) -> None:
        self._engine = engine
        self._settings = settings
        self.store = storage.store
        self._keys = storage.keys
        self._pinner = storage.pinner
        self.wallets = wallets
        self._chain = chain

    # -- publishing ---------------------------------------------------------------------------------------
    async def create(self, creator: Principal, upload: Path, filename: str, fields: DatasetCreate) -> DatasetObject:
        chain = self._chain
        if await self._find(fields.slug) is not None or await chain.contracts.registry.id_of(fields.slug):
            raise Conflict(f"the slug {fields.slug!r} is taken", param="slug")
        fmt = detect(filename, fields.format)
        stats, preview = await asyncio.to_thread(inspect, upload, fmt, self._settings.preview_rows)
        dataset_id, key = f"ds_{uuid.uuid4().hex[:20]}", new_key()
        stored = await asyncio.to_thread(store_encrypted, content.chunks(upload), self.store, key)
        added = list(stored.added)
        try:
            listing = {"name": fields.name, "description": fields.description, "license": fields.license}
            metadata = _metadata(listing, fields.category, fmt, stats, str(stored.cid), stored.sha256, len(preview))
            metadata_cid = await asyncio.to_thread(self._put_file, metadata, added)
            if self._pinner is not None:
                await asyncio.to_thread(self._pin, fields.slug, stored.cid, metadata_cid)
            master_id, wrapped = self._keys.wrap(key, dataset_id)
            token_id, _ = await chain.contracts.registry.register(
                fields.wallet, fields.slug, str(metadata_cid), fields.price
            )
        except BaseException:
            for cid in added:  # nothing half-stored: the blocks go again if listing fails
                self.store.delete(cid)
            raise
        row = {
            "id": dataset_id,
            "slug": fields.slug,
            "name": fields.name,
            "description": fields.description,
            "category": fields.category,
            "license": fields.license,
            "format": fmt,
            "price": fields.price,
            "creator_id": creator.user_id,
            "creator_wallet": fields.wallet.lower(),
            "size": stored.size,
            "sha256": stored.sha256,
            "stats": stats,
            "preview": preview,
            "content_cid": str(stored.cid),
            "metadata_cid": str(metadata_cid),
            "header": stored.header.hex(),
            "master_id": master_id,
            "wrapped_key": wrapped.hex(),
            "chain_id": chain.client.chain_id,
            "token_id": token_id,
            "listed": True,
            "created_at": datetime.now(UTC),
        }
        async with self._engine.begin() as connection:
            await connection.execute(insert(DatasetRow).values(**row))
        return await self.describe(fields.slug, creator)

    def _pin(self, slug: str, content: CID, metadata: CID) -> None:
        assert self._pinner is not None
        self._pinner.pin(content, f"{slug}.cde1", read_range(self.store, content))
        try:
            self._pinner.pin(metadata, f"{slug}.json", read_range(self.store, metadata))
        except BaseException:
            self._pinner.unpin(content)
            raise

    def _put_file(self, data: bytes, added: list[CID]) -> CID:
        def put(cid: CID, block: bytes) -> None:
            if self.store.put(cid, block):
                added.append(cid)

        builder = UnixfsBuilder(put)
        builder.write(data)
        return builder.finish().cid

    async def update(self, slug: str, caller: Principal, change: DatasetUpdate) -> DatasetObject:
        row = await self._get(slug)
        if await self.access(row, caller) < Access.FULL:
            raise PermissionDenied(
                "only the creator or the current holder may edit a dataset", code="insufficient_access"
            )
        values = change.model_dump(exclude_none=True)
        if "price" in values and values["price"] != row.price:
            await self._as_operator(row, lambda registry: registry.set_price(row.token_id, values["price"]))
        listing = {k: values.get(k, getattr(row, k)) for k in ("name", "description", "license")}
        if any(listing[k] != getattr(row, k) for k in listing):
            # The token's metadata says what the listing says: a new text is a new metadata file, a new CID,
            # and a new tokenURI on chain.
            metadata = _metadata(
                listing, row.category, row.format, row.stats, row.content_cid, row.sha256, len(row.preview)
            )
            cid = str(await asyncio.to_thread(self._put_file, metadata, []))
            await self._as_operator(row, lambda registry: registry.set_metadata(row.token_id, cid))
            values["metadata_cid"] = cid
        if values:
            async with self._engine.begin() as connection:
                await connection.execute(update(DatasetRow).where(DatasetRow.id == row.id).values(**values))
        return await self.describe(slug, caller)

    async def retire(self, slug: str, caller: Principal) -> DatasetObject:
        """Burn the dataset's token and unlist it. The content stays: buyers keep downloading what they paid for."""
        row = await self._get(slug)
        if await self.access(row, caller) < Access.FULL:
            raise PermissionDenied(
                "only the creator or the current holder may retire a dataset", code="insufficient_access"
            )
        await self._as_operator(row, lambda registry: registry.retire(row.token_id))
        async with self._engine.begin() as connection:
            await connection.execute(update(DatasetRow).where(DatasetRow.id == row.id).values(listed=False, price=0))
        return await self.describe(slug, caller)

    async def _as_operator(self, row: DatasetRow, action: Any) -> None:
        chain = self._chain
        try:
            await action(chain.contracts.registry)
        except TransactionReverted as error:
            if "NotHolder" not in error.reason:
                raise
            signer = chain.client.signer.address if chain.client.signer else "the service"
            raise PermissionDenied(
                f"on-chain changes need the holder's approval: from the holder's wallet, call "
                f"DatasetNFT.setApprovalForAll({signer}, true) (or send DatasetRegistry.setPrice/retire yourself)",
                code="operator_not_approved",
            ) from None

    # -- reading ------------------------------------------------------------------------------------------
    async def describe(self, slug: str, caller: Viewer) -> DatasetObject:
        row = await self._get(slug)
        level = await self.access(row, caller)
        if not row.listed and level < Access.DOWNLOAD:  # unlisted: gone, except for buyers and the holder
            raise NotFound(f"no dataset {slug!r}")
        return _object(row, level)

    async def browse(
        self,
        caller: Viewer,
        category: str | None,
        q: str | None,
        sort: str,
        limit: int,
        offset: int,
        creator: str | None = None,
    ) -> DatasetList:
        query = select(DatasetRow).where(DatasetRow.listed.is_(True))
        if category:
            query = query.where(DatasetRow.category == category)
        if creator:
            query = query.where(DatasetRow.creator_wallet == creator.lower())
        if q:
            pattern = f"%{q.lower()}%"
            query = query.where(
                or_(func.lower(DatasetRow.name).like(pattern), func.lower(DatasetRow.description).like(pattern))
            )
        async with self._engine.connect() as connection:
            total = (await connection.execute(select(func.count()).select_from(query.subquery()))).scalar_one()
            rows = (
                await connection.execute(
                    query.order_by(_SORTS.get(sort, _SORTS["newest"]), DatasetRow.id).limit(limit).offset(offset)
                )
            ).all()
            tokens = [row.token_id for row in rows if row.token_id is not None]
            sold = dict(
                (
                    await connection.execute(
                        select(ChainPurchase.dataset_id, func.count())
                        .where(ChainPurchase.chain_id == self._chain.client.chain_id)
                        .where(ChainPurchase.dataset_id.in_(tokens))
                        .group_by(ChainPurchase.dataset_id)
                    )
                )
                .tuples()
                .all()
            )
        data = [  # per-caller levels: GET one dataset
            _object(row, Access.PUBLIC).model_copy(update={"sales": sold.get(row.token_id, 0)}) for row in rows
        ]
        return DatasetList(data=data, total=total, has_more=offset + len(data) < total)

    async def preview(self, slug: str, caller: Viewer) -> PreviewObject:
        row = await self._get(slug)
        await self._require(row, caller, Access.PREVIEW)
        return PreviewObject(slug=row.slug, format=row.format, rows=row.preview)

    async def download(
        self, slug: str, caller: Viewer, span: Callable[[int], tuple[int, int]] | None = None
    ) -> tuple[DatasetRow, int, int, AsyncIterator[bytes]]:
        """(row, start, end, bytes): the plaintext ``span(size)`` (default: all of it), decrypted as it is read.
        Access is checked once, against the chain, before anything is read."""
        row = await self._get(slug)
        await self._require(row, caller, Access.DOWNLOAD)
        start, end = span(row.size) if span else (0, row.size)
        key = self._keys.unwrap(row.master_id, bytes.fromhex(row.wrapped_key), row.id)
        return row, start, end, content.in_thread(lambda: content.plaintext(self.store, row, key, start, end))

    async def purchase(self, slug: str, payment: X402Payment, referrer: str | None) -> dict[str, Any]:
        return await buy_with_x402(self._chain, await self._get(slug), payment, referrer)

    async def purchase_calls(self, slug: str, referrer: str | None) -> WalletCalls:
        """Buying from one's own wallet instead of x402: approve the router for the price, then ``purchase``."""
        row = await self._get(slug)
        if row.token_id is None or not row.listed:
            raise NotFound(f"dataset {slug!r} is not for sale")
        contracts = self._chain.contracts
        price = await contracts.registry.price_of(row.token_id)
        calls = [
            contracts.usdc.call("approve", contracts.router.address, price, description=f"Allow paying {price} µUSDC"),
            contracts.router.call("purchase", row.token_id, referrer or ZERO, description=f"Buy {row.slug}"),
        ]
        return WalletCalls(chain_id=self._chain.client.chain_id, calls=calls)

    async def purchases(self, caller: Principal) -> DatasetList:
        """The datasets the caller's wallets bought (from the index), newest purchase first."""
        wallets = await self.wallets.of(caller.user_id)
        rows = await sales.bought_by(self._engine, self._chain.client.chain_id, wallets)
        data = [_object(row, Access.DOWNLOAD) for row in rows]
        return DatasetList(data=data, total=len(data), has_more=False)

    async def created(self, caller: Principal) -> list[DatasetObject]:
        """The caller's own datasets, listed or retired (they hold them all: full access)."""
        return [_object(row, Access.FULL) for row in await sales.created_by(self._engine, caller.user_id)]

    async def sales(self, caller: Principal) -> SaleList:
        wallets = await self.wallets.of(caller.user_id)
        return await sales.sales_to(self._engine, self._chain.client.chain_id, wallets)

    def operator_calls(self) -> WalletCalls:
        """Price changes and retirement are sent on chain by the service's signer, which the NFT's holder must
        approve once as operator (``setApprovalForAll``): this is that transaction, for the holder's wallet."""
        signer = self._chain.client.signer
        if signer is None:
            raise NotFound("this server has no chain signer: send price changes from your wallet yourself")
        call = self._chain.contracts.nft.call(
            "setApprovalForAll", signer.address, True, description="Let Cluster change prices and retire for you"
        )
        return WalletCalls(chain_id=self._chain.client.chain_id, calls=[call])

    async def access(self, row: DatasetRow, caller: Viewer) -> Access:
        """Checked against the chain on every request: the NFT's holder now, and purchases now. A caller is an
        account (its linked wallets count), a wallet that signed for this dataset, or nobody."""
        if caller is None:
            return Access.PUBLIC
        if isinstance(caller, SignedWallet):
            wallets = [caller.address]
        elif caller.user_id == row.creator_id:
            return Access.FULL
        else:
            wallets = await self.wallets.of(caller.user_id)
        if not wallets or row.token_id is None:
            return Access.PREVIEW
        contracts = self._chain.contracts
        try:
            holder = (await contracts.nft.owner_of(row.token_id)).lower()
        except TransactionReverted:  # retired: the token was burned, nobody holds it
            holder = None
        if holder in wallets:
            return Access.FULL
        owned = await asyncio.gather(*(contracts.router.has_access(w, row.token_id) for w in wallets))
        return Access.DOWNLOAD if any(owned) else Access.PREVIEW

    async def earnings(self, caller: Principal, pending: dict[str, int] | None = None) -> Earnings:
        """Sales and paid royalties from the index; ``pending`` (slug -> accrued royalties) is shown for the
        datasets whose NFT the caller's wallets hold now, since that is who the next payout pays."""
        wallets = await self.wallets.of(caller.user_id)
        chain_id = self._chain.client.chain_id
        async with self._engine.connect() as connection:
            purchases = (
                await connection.execute(
                    select(ChainPurchase).where(
                        ChainPurchase.chain_id == chain_id,
                        or_(
                            func.lower(ChainPurchase.beneficiary).in_(wallets),
                            func.lower(ChainPurchase.referrer).in_(wallets),
                        ),
                    )
                )
            ).all()
            on_chain = select(DatasetRow.token_id, DatasetRow.slug).where(DatasetRow.chain_id == chain_id)
            slugs = dict((await connection.execute(on_chain)).tuples().all())
            royalty_rows = (
                await connection.execute(
                    select(RoyaltyPayout.token_id, func.sum(RoyaltyPayout.amount))
                    .where(RoyaltyPayout.status == "paid", RoyaltyPayout.holder.in_(wallets))
                    .group_by(RoyaltyPayout.token_id)
                )
            ).all()
        royalties = {int(token): int(total) for token, total in royalty_rows}
        per: dict[int, dict[str, Any]] = {t: {"sales": 0, "buyers": set(), "received": 0} for t in royalties}
        accrued = await self._held_pending(pending or {}, wallets)
        for token_id in accrued:
            per.setdefault(token_id, {"sales": 0, "buyers": set(), "received": 0})
        referrals = referral_received = 0
        for purchase in purchases:
            if purchase.beneficiary.lower() in wallets:
                entry = per.setdefault(purchase.dataset_id, {"sales": 0, "buyers": set(), "received": 0})
                entry["sales"] += 1
                entry["buyers"].add(purchase.buyer.lower())
                entry["received"] += purchase.creator_amount
            if purchase.referrer.lower() in wallets:
                referrals += 1
                referral_received += purchase.referrer_amount
        datasets = [
            DatasetEarnings(
                slug=slugs.get(token_id, f"token-{token_id}"),
                token_id=token_id,
                sales=e["sales"],
                buyers=len(e["buyers"]),
                received=e["received"],
                royalties=royalties.get(token_id, 0),
                royalties_pending=accrued.get(token_id, 0),
            )
            for token_id, e in sorted(per.items())
        ]
        return Earnings(
            wallets=wallets,
            datasets=datasets,
            total_received=sum(d.received for d in datasets),
            total_royalties=sum(d.royalties for d in datasets),
            total_royalties_pending=sum(d.royalties_pending for d in datasets),
            referrals=referrals,
            referral_received=referral_received,
        )

    # -- internals ----------------------------------------------------------------------------------------
    async def _held_pending(self, pending: dict[str, int], wallets: list[str]) -> dict[int, int]:
        """token id -> pending royalties, for the datasets ``wallets`` hold now."""
        held: dict[int, int] = {}
        for slug, amount in pending.items():
            row = await self._find(slug)
            if row is None or row.token_id is None:
                continue
            try:
                holder = (await self._chain.contracts.nft.owner_of(row.token_id)).lower()
            except TransactionReverted:
                continue  # retired
            if holder in wallets:
                held[row.token_id] = amount
        return held

    async def _require(self, row: DatasetRow, caller: Viewer, level: Access) -> None:
        have = await self.access(row, caller)
        if have >= level:
            return
        if caller is None:
            raise Unauthorized(f"{level.name.lower()} access needs an API key")
        needs = {Access.DOWNLOAD: "buy it with a wallet linked to your account (POST /v1/wallets)"}.get(level, "")
        raise PermissionDenied(
            f"{level.name.lower()} access is refused for {row.slug!r}: {needs}".rstrip(": "), code="insufficient_access"
        )

    async def _find(self, slug: str) -> DatasetRow | None:
        async with self._engine.connect() as connection:
            return (await connection.execute(select(DatasetRow).where(DatasetRow.slug == slug))).one_or_none()  # type: ignore[return-value]

    async def _get(self, slug: str) -> DatasetRow:
        row = await self._find(slug)
        if row is None:
            raise NotFound(f"no dataset {slug!r}")
        return row


def _metadata(
    listing: dict[str, str], category: str, fmt: str, stats: dict[str, Any], content: str, sha256: str, preview: int
) -> bytes:
    """The listing as the JSON file whose CID is the NFT's tokenURI."""
    document = {
        **listing,
        "category": category,
        "format": fmt,
        "stats": stats,
        "content": {"cid": content, "encryption": "CDE1 (AES-256-GCM)", "sha256": sha256},
        "preview": {"rows": preview, "access": "signed-in users"},
    }
    return json.dumps(document, sort_keys=True).encode()


def _object(row: Any, level: Access) -> DatasetObject:
    """``row``: a ``datasets`` row (read through Core, so a Row with the model's attributes)."""
    return DatasetObject(
        id=row.id,
        slug=row.slug,
        name=row.name,
        description=row.description,
        category=row.category,
        license=row.license,
        format=row.format,
        price=row.price,
        creator_wallet=row.creator_wallet,
        size=row.size,
        sha256=row.sha256,
        stats=row.stats,
        content_cid=row.content_cid,
        metadata_cid=row.metadata_cid,
        token_uri=f"ipfs://{row.metadata_cid}",
        chain_id=row.chain_id,
        token_id=row.token_id,
        listed=row.listed,
        created_at=int(row.created_at.timestamp()),
        access=level.name.lower(),
    )
