"""Wallets proved to belong to an account (an EIP-191 signature over ``link_message``). Access on chain
(holding a dataset's NFT, having bought it) becomes access here through them."""

from __future__ import annotations

import time
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.auth.identities import Identities, Identity
from cluster.auth.models import WalletRow
from cluster.errors import ClusterError, InvalidRequest, Unauthorized
from cluster.marketplace.protocol import WalletLink, WalletObject, access_message, link_message

MAX_AGE = 600


@dataclass(frozen=True)
class SignedWallet:
    """A caller with no account, proved to control ``address`` for this request's dataset."""

    address: str  # lower-case


def signed_wallet(header: str, slug: str) -> SignedWallet:
    """Check an ``X-Wallet-Auth: <address>:<issued_at>:<signature>`` header for ``slug``."""
    try:
        address, issued, signature = header.split(":")
        issued_at = int(issued)
    except ValueError:
        raise Unauthorized("X-Wallet-Auth must be <address>:<issued_at>:<signature>") from None
    if abs(time.time() - issued_at) > MAX_AGE:
        raise Unauthorized("the X-Wallet-Auth signature is too old: sign a fresh one")
    _require_signer(access_message(slug, address, issued_at), signature, address, Unauthorized)
    return SignedWallet(address.lower())


def _require_signer(text: str, signature: str, address: str, error: type[ClusterError]) -> None:
    try:
        signer = str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except Exception as failure:
        raise error(f"unreadable signature: {failure}") from None
    if signer.lower() != address.lower():
        raise error("the signature is not from that wallet", code="invalid_signature")


class Wallets:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def link(self, user_id: str, request: WalletLink) -> WalletObject:
        if abs(time.time() - request.issued_at) > MAX_AGE:
            raise InvalidRequest("the signed message is too old: sign a fresh one", param="issued_at")
        message = link_message(user_id, request.address, request.issued_at)
        _require_signer(message, request.signature, request.address, InvalidRequest)
        address = request.address.lower()
        await Identities(self._engine).link(user_id, Identity("wallet", address))
        return WalletObject(address=address, user_id=user_id, created_at=int(time.time()))

    async def of(self, user_id: str) -> list[str]:
        async with self._engine.connect() as connection:
            rows = await connection.execute(select(WalletRow.address).where(WalletRow.user_id == user_id))
            return [row[0] for row in rows]
