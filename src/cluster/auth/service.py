"""Users, keys and authentication. A looked-up key is cached for ``cache_ttl`` seconds (revocation in this
process takes effect at once, in other processes within the TTL); last-used times are kept in memory and
written in one statement every few seconds, never per request."""

from __future__ import annotations

import hmac
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from cluster.auth import keys
from cluster.auth.models import ApiKey, User
from cluster.auth.principal import Principal, Role, Scope
from cluster.auth.protocol import KeyCreated, KeyCreateRequest, KeyObject, UserObject
from cluster.auth.sessions import WebSessions, looks_like_session
from cluster.auth.times import aware, utcnow
from cluster.errors import Conflict, InvalidRequest, NotFound, PermissionDenied, Unauthorized

_CACHE_SIZE = 10_000


@dataclass(frozen=True, slots=True)
class _KeySnapshot:
    key: ApiKey
    role: Role


class AuthService:
    def __init__(self, engine: AsyncEngine, secret: bytes, cache_ttl: float, sessions: WebSessions) -> None:
        self.sessions = sessions
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # Writes take SQLite's write lock up front: a transaction that reads then writes (revoking) would
        # otherwise fail with "database is locked" when another connection wrote after its read.
        self._writes = async_sessionmaker(engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False)
        self._secret = secret
        self._ttl = cache_ttl
        self._cache: OrderedDict[str, tuple[float, _KeySnapshot]] = OrderedDict()
        self._last_used: dict[str, datetime] = {}
        self._revocations = 0  # a lookup that raced a revocation must not cache what it read

    # -- the hot path -------------------------------------------------------------------------------
    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise Unauthorized("Missing API key: send 'Authorization: Bearer sk-cluster-…'", code="missing_api_key")
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() == "bearer" and looks_like_session(token):
            return await self.sessions.principal(token, utcnow())
        if scheme.lower() != "bearer" or not keys.looks_like_key(token):
            raise Unauthorized("Invalid API key", code="invalid_api_key")
        digest = keys.digest(self._secret, token)
        snapshot = await self._lookup(digest)
        if snapshot is None or not hmac.compare_digest(snapshot.key.key_hash, digest):
            raise Unauthorized("Invalid API key", code="invalid_api_key")
        key = snapshot.key
        now = utcnow()
        if key.revoked_at is not None:
            raise Unauthorized("This API key has been revoked", code="revoked_api_key")
        expires_at = aware(key.expires_at)
        if expires_at is not None and expires_at <= now:
            raise Unauthorized("This API key has expired", code="expired_api_key")
        self._last_used[key.id] = now
        return Principal(
            user_id=key.user_id,
            role=snapshot.role,
            key_id=key.id,
            scopes=frozenset(Scope(s) for s in key.scopes.split(",")),
            models=frozenset(key.models) if key.models is not None else None,
            rpm=key.rpm,
            tpm=key.tpm,
            tee_only=bool(key.tee_only),
            expires_at=expires_at,
        )

    async def _lookup(self, digest: str) -> _KeySnapshot | None:
        cached = self._cache.get(digest)
        if cached is not None and time.monotonic() - cached[0] < self._ttl:
            return cached[1]
        revocations = self._revocations
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(ApiKey, User.role).join(User, User.id == ApiKey.user_id).where(ApiKey.key_hash == digest)
                )
            ).first()
        if row is None:
            return None
        snapshot = _KeySnapshot(row[0], Role(row[1]))
        if revocations != self._revocations:
            return snapshot
        self._cache[digest] = (time.monotonic(), snapshot)
        self._cache.move_to_end(digest)
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return snapshot

    async def flush_last_used(self) -> None:
        pending, self._last_used = self._last_used, {}
        if not pending:
            return
        async with self._writes.begin() as session:
            await session.execute(
                update(ApiKey),
                [{"id": key_id, "last_used_at": when} for key_id, when in pending.items()],
            )

    # -- users ----------------------------------------------------------------------------------------
    async def create_user(self, name: str, role: Role = Role.USER) -> UserObject:
        user = User(id=f"user_{uuid.uuid4().hex[:16]}", name=name, role=role.value, created_at=utcnow())
        async with self._writes.begin() as session:
            session.add(user)
        return _user_object(user)

    async def get_user(self, user_id: str) -> UserObject:
        async with self._sessions() as session:
            user = await session.get(User, user_id)
        if user is None:
            raise NotFound(f"no user '{user_id}'", param="user_id")
        return _user_object(user)

    async def has_admin(self) -> bool:
        async with self._sessions() as session:
            return (await session.execute(select(User.id).where(User.role == Role.ADMIN.value))).first() is not None

    async def init_admin(self, name: str = "admin") -> tuple[UserObject, KeyCreated]:
        """The first admin and its key; refused once an admin exists."""
        if await self.has_admin():
            raise Conflict("an admin already exists; create more keys with an admin key")
        user = await self.create_user(name, Role.ADMIN)
        key = await self._insert_key(user.id, KeyCreateRequest(name="admin", scopes=list(Scope)))
        return user, key

    # -- keys -------------------------------------------------------------------------------------------
    async def create_key(self, actor: Principal, request: KeyCreateRequest) -> KeyCreated:
        owner = request.user_id or actor.user_id
        if owner != actor.user_id or Scope.ADMIN in request.scopes:
            actor.require(Scope.ADMIN)
        if not actor.is_admin:
            request = _no_broader_than(actor, request)
        await self.get_user(owner)
        return await self._insert_key(owner, request)

    async def _insert_key(self, owner: str, request: KeyCreateRequest) -> KeyCreated:
        expires_at = request.expires_at
        if request.expires_in_days is not None:
            expires_at = utcnow() + timedelta(days=request.expires_in_days)
        if expires_at is not None and aware(expires_at) <= utcnow():
            raise InvalidRequest("expires_at is in the past", param="expires_at")
        plaintext = keys.new_key()
        row = ApiKey(
            id=f"key_{uuid.uuid4().hex[:16]}",
            user_id=owner,
            name=request.name,
            display=keys.display(plaintext),
            key_hash=keys.digest(self._secret, plaintext),
            scopes=",".join(sorted({s.value for s in request.scopes})),
            models=request.models,
            rpm=request.rpm,
            tpm=request.tpm,
            tee_only=request.tee_only,
            expires_at=expires_at,
            created_at=utcnow(),
        )
        async with self._writes.begin() as session:
            session.add(row)
        return KeyCreated(**key_object(row).model_dump(), key=plaintext)

    async def list_users(self, limit: int = 200) -> list[UserObject]:
        async with self._sessions() as session:
            users = (await session.execute(select(User).order_by(User.created_at.desc()).limit(limit))).scalars()
            return [_user_object(user) for user in users]

    async def list_keys(self, actor: Principal, user_id: str | None = None) -> list[KeyObject]:
        owner = user_id or actor.user_id
        if owner != actor.user_id:
            actor.require(Scope.ADMIN)
        async with self._sessions() as session:
            rows = (
                await session.execute(select(ApiKey).where(ApiKey.user_id == owner).order_by(ApiKey.created_at))
            ).scalars()
            return [key_object(row) for row in rows]

    async def revoke_key(self, actor: Principal, key_id: str) -> KeyObject:
        async with self._writes.begin() as session:
            row = await session.get(ApiKey, key_id)
            if row is None or (row.user_id != actor.user_id and not actor.is_admin):
                raise NotFound(f"no key '{key_id}'", param="key_id")
            if row.revoked_at is None:
                row.revoked_at = utcnow()
            self._revocations += 1
        # Again once committed: a lookup between the first bump and the commit read the old row.
        self._revocations += 1
        self._cache.pop(row.key_hash, None)
        return key_object(row)

    def require_owner_or_admin(self, actor: Principal, user_id: str) -> None:
        if user_id != actor.user_id and not actor.is_admin:
            raise PermissionDenied("only admins may act for other users", code="insufficient_role")


def _no_broader_than(actor: Principal, request: KeyCreateRequest) -> KeyCreateRequest:
    """A key made with a non-admin key may narrow it but never widen it: no model outside its allow-list,
    no rate override above its own (none at all if it has none), no later expiry."""
    update: dict[str, object] = {}
    if actor.models is not None:
        if request.models is not None and not set(request.models) <= actor.models:
            raise PermissionDenied("a new key cannot allow models this key may not use", param="models")
        update["models"] = request.models if request.models is not None else sorted(actor.models)
    for field, mine in (("rpm", actor.rpm), ("tpm", actor.tpm)):
        wanted = getattr(request, field)
        if wanted is not None and (mine is None or wanted > mine):
            raise PermissionDenied(f"a new key cannot raise {field} above this key's", param=field)
        if wanted is None and mine is not None:
            update[field] = mine
    if actor.expires_at is not None:
        wanted_expiry = request.expires_at
        if request.expires_in_days is not None:
            wanted_expiry = utcnow() + timedelta(days=request.expires_in_days)
        if wanted_expiry is None or aware(wanted_expiry) > actor.expires_at:
            update.update(expires_at=actor.expires_at, expires_in_days=None)
    return request.model_copy(update=update)


def key_object(row: ApiKey) -> KeyObject:
    return KeyObject(
        id=row.id,
        name=row.name,
        display=row.display,
        user_id=row.user_id,
        scopes=[Scope(s) for s in row.scopes.split(",")],
        models=row.models,
        rpm=row.rpm,
        tpm=row.tpm,
        tee_only=bool(row.tee_only),
        expires_at=aware(row.expires_at),
        revoked_at=aware(row.revoked_at),
        last_used_at=aware(row.last_used_at),
        created_at=aware(row.created_at),
    )


def _user_object(user: User) -> UserObject:
    return UserObject(id=user.id, name=user.name, role=Role(user.role), created_at=aware(user.created_at))
