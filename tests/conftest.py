from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from cluster.app import create_app
from cluster.settings import ProviderConfig, Settings
from tests.support import MockUpstream


def make_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for a test: its own data dir, SQLite, the bundled local models, fast log flushes, and an open
    gateway (no key needed) unless the test turns auth on."""
    defaults: dict[str, object] = {
        "data_dir": data_dir,
        "auth": {"required": False},
        "limits": {"ip_rpm": None, "key_rpm": None, "key_tpm": None},
        "request_log": {"flush_interval": 0.02},
        "router": {"breaker_failures": 2, "breaker_cooldown": 0.5},
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
