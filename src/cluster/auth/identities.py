"""The ways into an account: wallets and email addresses, each proved (a signature, an opened link) before it is
added. Signing in with an identity no account has yet opens a new account for it; signing in while signed in
links it to the current account instead (one account, several identities)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from cluster.auth.models import EmailRow, User, WalletRow
from cluster.auth.principal import Role
from cluster.auth.times import utcnow
from cluster.db.engine import insert_ignore
from cluster.errors import Conflict


@dataclass(frozen=True, slots=True)
class Identity:
    kind: str  # "wallet" | "email"
    address: str  # lower-case

    @property
    def via(self) -> str:
        return f"{self.kind}:{self.address}"

    @property
    def short(self) -> str:
        return f"{self.address[:6]}…{self.address[-4:]}" if self.kind == "wallet" else self.address


def _table(kind: str) -> Table:
    return (WalletRow if kind == "wallet" else EmailRow).__table__  # type: ignore[return-value]


class Identities:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine

    async def owner(self, identity: Identity) -> str | None:
        table = _table(identity.kind)
        async with self._engine.connect() as connection:
            found = await connection.execute(select(table.c.user_id).where(table.c.address == identity.address))
            return found.scalar()

    async def sign_in(self, identity: Identity) -> str:
        """The account ``identity`` belongs to, opened for it on first sign-in."""
        owner = await self.owner(identity)
        if owner is not None:
            return owner
        async with self._engine.begin() as connection:
            user_id = f"user_{uuid.uuid4().hex[:16]}"
            user = {"id": user_id, "name": identity.short[:200], "role": Role.USER.value, "created_at": utcnow()}
            await connection.execute(insert(User).values(**user))
            owner = await self._claim(connection, user_id, identity)
            if owner != user_id:  # a racing first sign-in of the same identity won: no empty account is left
                await connection.execute(delete(User).where(User.id == user_id))
            return owner

    async def link(self, user_id: str, identity: Identity) -> None:
        """Add a proved identity to an account (409 if it is another account's)."""
        async with self._engine.begin() as connection:
            if await self._claim(connection, user_id, identity) != user_id:
                raise Conflict(f"that {identity.kind} is linked to another account", param="address")

    @staticmethod
    async def _claim(connection: AsyncConnection, user_id: str, identity: Identity) -> str:
        """Insert unless taken (racing sign-ins of one identity both end on the first account); the owner after."""
        table = _table(identity.kind)
        statement = insert_ignore(connection.dialect.name, table)
        await connection.execute(statement.values(address=identity.address, user_id=user_id, created_at=utcnow()))
        owner = (await connection.execute(select(table.c.user_id).where(table.c.address == identity.address))).scalar()
        return str(owner)

    async def of(self, user_id: str) -> list[Identity]:
        async with self._engine.connect() as connection:
            wallets = await connection.execute(select(WalletRow.address).where(WalletRow.user_id == user_id))
            emails = await connection.execute(select(EmailRow.address).where(EmailRow.user_id == user_id))
            return [Identity("wallet", a) for (a,) in wallets] + [Identity("email", a) for (a,) in emails]
