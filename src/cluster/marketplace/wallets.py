"""Wallets proved to belong to an account (an EIP-191 signature over ``link_message``). Access on chain
(holding a dataset's NFT, having bought it) becomes access here through them."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.db.engine import insert_ignore
from cluster.errors import Conflict, InvalidRequest
from cluster.marketplace.models import WalletRow
from cluster.marketplace.protocol import WalletLink, WalletObject, link_message

MAX_AGE = 600


class Wallets:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def link(self, user_id: str, request: WalletLink) -> WalletObject:
        if abs(time.time() - request.issued_at) > MAX_AGE:
            raise InvalidRequest("the signed message is too old: sign a fresh one", param="issued_at")
        message = encode_defunct(text=link_message(user_id, request.address, request.issued_at))
        try:
            signer = str(Account.recover_message(message, signature=request.signature))
        except Exception as error:
            raise InvalidRequest(f"unreadable signature: {error}", param="signature") from None
        if signer.lower() != request.address.lower():
            raise InvalidRequest("the signature is not from that wallet", param="signature", code="invalid_signature")
        address = request.address.lower()
        async with self._engine.begin() as connection:
            statement = insert_ignore(connection.dialect.name, WalletRow.__table__)  # type: ignore[arg-type]
            await connection.execute(statement.values(address=address, user_id=user_id, created_at=datetime.now(UTC)))
            owner = (await connection.execute(select(WalletRow.user_id).where(WalletRow.address == address))).scalar()
        if owner != user_id:
            raise Conflict("that wallet is linked to another account", param="address")
        return WalletObject(address=address, user_id=user_id, created_at=int(time.time()))

    async def of(self, user_id: str) -> list[str]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(WalletRow.address).where(WalletRow.user_id == user_id))
            return [row[0] for row in rows]
