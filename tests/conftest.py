from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from cluster.app import create_app
from cluster.settings import ProviderConfig, Settings
from tests.support import MockUpstream

# The session's anvil and the per-test EVM snapshot (`anvil`, `chain`), for every test directory.
pytest_plugins = ["tests.chain_fixtures"]

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"


async def _pg_admin():  # type: ignore[no-untyped-def]
    import asyncpg

    try:
        return await asyncpg.connect(PG_ADMIN, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("CI"):
            raise RuntimeError(f"PostgreSQL must run for CI (scripts/services.sh starts it): {exc}") from exc
        pytest.skip(f"PostgreSQL not reachable on 127.0.0.1:5432: {exc}")


async def _fresh_postgres() -> AsyncIterator[str]:
    name = f"cluster_test_{uuid.uuid4().hex[:12]}"
    admin = await _pg_admin()
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql+asyncpg://postgres@127.0.0.1:5432/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'cluster.db'}"
        return
    async for url in _fresh_postgres():
        yield url


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh PostgreSQL database for this test."""
    async for url in _fresh_postgres():
        yield url


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: its own data dir, SQLite, the bundled local models, fast log flushes, and an open
    gateway (no key needed) unless the test turns auth on, and no chain unless the test asks for one."""
    defaults: dict[str, object] = {
        "data_dir": data_dir,
        "auth": {"required": False},
        "limits": {"ip_rpm": None, "key_rpm": None, "key_tpm": None},
        "request_log": {"flush_interval": 0.02},
        "router": {"breaker_failures": 2, "breaker_cooldown": 0.5},
        "chain": {"enabled": False},  # chain tests point it at the session anvil (tests/chain_fixtures.py)
    }
    return Settings(**{**defaults, **overrides})  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path / "data")


@pytest.fixture
async def client(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process (lifespan run), behind httpx's ASGI transport."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cluster") as http:
            http.app = app  # type: ignore[attr-defined]
            yield http


@pytest.fixture(scope="session")
def mock_upstream() -> Iterator[MockUpstream]:
    upstream = MockUpstream("solo").start()
    yield upstream
    upstream.kill()


def mock_provider(name: str, upstream: MockUpstream, **extra: object) -> ProviderConfig:
    fields: dict[str, object] = {
        "name": name,
        "base_url": upstream.url,
        "models": {"mock-model": "mock", "mock-embed": "mock"},
        **extra,
    }
    return ProviderConfig(**fields)  # type: ignore[arg-type]


class Secured:
    """The app with keys required: an ASGI client, the first admin's key and user id."""

    def __init__(self, http: httpx.AsyncClient, app: object, admin_key: str, admin_id: str) -> None:
        self.http = http
        self.app = app
        self.admin_key = admin_key
        self.admin_id = admin_id

    def auth(self, key: str | None = None) -> dict[str, str]:
        return {"authorization": f"Bearer {key or self.admin_key}"}

    async def new_user(self, credit: int = 0, scopes: list[str] | None = None, **key: object) -> tuple[str, str]:
        """A user with one key (and a credit); returns (user id, key)."""
        user = await self.http.post("/v1/users", json={"name": "u"}, headers=self.auth())
        user_id = user.json()["id"]
        body = {"user_id": user_id, "scopes": scopes or ["read", "write"], **key}
        created = await self.http.post("/v1/keys", json=body, headers=self.auth())
        assert created.status_code == 201, created.text
        if credit:
            response = await self.http.post(
                "/v1/admin/credit",
                json={"user_id": user_id, "amount": credit, "idempotency_key": f"seed-{user_id}"},
                headers=self.auth(),
            )
            assert response.status_code == 200, response.text
        return user_id, created.json()["key"]


async def secured_app(settings: Settings, bootstrap: bool = True) -> AsyncIterator[Secured]:
    """``bootstrap=False``: the database already has its admin (a restart); the admin key is not known."""
    from tests.support import bootstrap_admin

    admin_id, admin_key = await bootstrap_admin(settings) if bootstrap else ("", "")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://cluster") as http:
            yield Secured(http, app, admin_key, admin_id)


@pytest.fixture
async def secured(tmp_path: Path, mock_upstream: MockUpstream) -> AsyncIterator[Secured]:
    settings = make_settings(
        tmp_path,
        auth={"required": True},
        providers=[mock_provider("up", mock_upstream)],
        models=[{"id": "mock-model", "input_price": 1_000_000, "output_price": 2_000_000}],
    )
    async for value in secured_app(settings):
        yield value
