"""Signed-in sessions: the Hub's cookie and, as ``Authorization: Bearer cs-…``, the API's (a wallet or an agent
that signed in with SIWE calls the API without an API key).

A session token is ``cs-`` + 256 random bits; only its HMAC is stored (as for API keys), so it can be revoked at
once (sign out) and a database leak reveals none. A session acts as its user with the scopes a full key of
theirs would have (read and write; admin for admins). Each session has its own CSRF token, which the Hub sends
back on every state change."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.auth.models import User, WebSession
from cluster.auth.principal import Principal, Role, Scope
from cluster.auth.times import aware
from cluster.errors import Unauthorized

PREFIX = "cs-"
_CACHE_SIZE = 10_000
COOKIE = "cluster_session"  # the Hub's cookie: HttpOnly, SameSite=Lax (Secure off loopback)
CSRF_HEADER = "x-csrf-token"
KEY_PREFIX = "session:"  # a session's Principal.key_id (what usage and rate limits see)


def looks_like_session(token: str) -> bool:
    return token.startswith(PREFIX) and 40 <= len(token) <= 100


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    token: str | None  # only when just opened: it is never stored
    user_id: str
    via: str
    csrf: str
    expires_at: datetime


class WebSessions:
    """Sessions by token. A looked-up session is trusted for ``cache_ttl`` seconds, as API keys are: a page's
    request asks three times (who is looking, the CSRF token, the principal) and a session-paid inference call
    once, and none of them should be a database read each. Signing out here takes effect at once; in other
    processes within the TTL."""

    def __init__(self, engine: AsyncEngine, secret: bytes, ttl: float, cache_ttl: float = 0.0) -> None:
        self._engine = engine
        self._secret = secret
        self._ttl = ttl
        self._cache_ttl = cache_ttl
        self._cache: OrderedDict[str, tuple[float, tuple[Session, Role] | None]] = OrderedDict()

    def _digest(self, token: str) -> str:
        return hmac.new(self._secret, b"session:" + token.encode(), hashlib.sha256).hexdigest()

    async def open(self, user_id: str, via: str, now: datetime) -> Session:
        token = PREFIX + secrets.token_urlsafe(32)
        row = WebSession(
            id=f"sess_{uuid.uuid4().hex[:16]}",
            token_hash=self._digest(token),
            user_id=user_id,
            via=via,
            csrf=secrets.token_urlsafe(24),
            created_at=now,
            expires_at=now + timedelta(seconds=self._ttl),
        )
        async with self._engine.begin() as connection:
            await connection.execute(insert(WebSession).values(**_columns(row)))
        return Session(row.id, token, user_id, via, row.csrf, row.expires_at)

    async def find(self, token: str, now: datetime) -> tuple[Session, Role] | None:
        """The live session behind ``token`` and its user's role (None: unknown, expired or signed out)."""
        if not looks_like_session(token):
            return None
        digest = self._digest(token)
        cached = self._cache.get(digest)
        if cached is not None and time.monotonic() - cached[0] < self._cache_ttl:
            found = cached[1]
            return found if found is None or found[0].expires_at > now else None
        found = await self._read(digest, now)
        self._cache[digest] = (time.monotonic(), found)
        self._cache.move_to_end(digest)
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return found

    async def _read(self, digest: str, now: datetime) -> tuple[Session, Role] | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(WebSession.__table__, User.role.label("role"))
                    .join(User, User.id == WebSession.user_id)
                    .where(WebSession.token_hash == digest)
                )
            ).first()
        if row is None:
            return None
        role = Role(row.role)
        expires = aware(row.expires_at)
        if row.revoked_at is not None or expires <= now or not hmac.compare_digest(row.token_hash, digest):
            return None
        return Session(row.id, None, row.user_id, row.via, row.csrf, expires), role

    async def principal(self, token: str, now: datetime) -> Principal:
        found = await self.find(token, now)
        if found is None:
            raise Unauthorized("This session has expired or was signed out: sign in again", code="invalid_session")
        session, role = found
        scopes = {Scope.READ, Scope.WRITE} | ({Scope.ADMIN} if role is Role.ADMIN else set())
        return Principal(
            user_id=session.user_id,
            role=role,
            key_id=KEY_PREFIX + session.id,
            scopes=frozenset(scopes),
            expires_at=session.expires_at,
        )

    async def csrf_ok(self, token: str, sent: str | None, now: datetime) -> bool:
        """A state change from a signed-in browser carries its session's CSRF token (SameSite=Lax alone leaves
        top-level cross-site POSTs of old browsers and same-site subdomains)."""
        found = await self.find(token, now)
        return found is not None and sent is not None and hmac.compare_digest(found[0].csrf.encode(), sent.encode())

    async def close(self, token: str, now: datetime) -> None:
        digest = self._digest(token)
        async with self._engine.begin() as connection:
            await connection.execute(update(WebSession).where(WebSession.token_hash == digest).values(revoked_at=now))
        self._cache.pop(digest, None)  # after the write: a lookup racing it cannot cache the live row again


def _columns(row: WebSession) -> dict[str, object]:
    return {column.name: getattr(row, column.name) for column in WebSession.__table__.columns}
