"""The composition root: a start that fails in any domain stops everything that had started (no task, thread,
client, engine connection or child process left behind), and a clean start and stop leaves nothing either."""

from __future__ import annotations

import asyncio
import gc
import threading
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import psutil
import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from cluster.auth import assembly as auth
from cluster.billing import assembly as billing
from cluster.chain import assembly as chain
from cluster.db import assembly as db
from cluster.finetune import assembly as finetune
from cluster.gateway import assembly as gateway
from cluster.marketplace import assembly as marketplace
from cluster.metering import assembly as metering
from cluster.payments import assembly as payments
from cluster.services import Services
from cluster.settings import Settings
from cluster.storage import assembly as storage
from cluster.tee import assembly as tee
from tests.chain_fixtures import Chain, free_port
from tests.conftest import make_settings

#: every domain's start, in the order ``Services.running`` enters them
DOMAINS: list[tuple[Any, str]] = [
    (db, "running"),
    (metering, "running"),
    (auth, "running"),
    (auth, "limits"),
    (billing, "running"),
    (chain, "running"),
    (auth, "signin"),
    (payments, "running"),
    (storage, "running"),
    (marketplace, "running"),
    (tee, "running"),
    (gateway, "routing"),
    (finetune, "deployed"),
    (marketplace, "royalties"),
    (gateway, "inference"),
    (gateway, "media"),
    (finetune, "running"),
]


@dataclass
class Census:
    """What a running service holds that stopping must give back."""

    tasks: set[asyncio.Task[Any]]
    threads: set[threading.Thread]
    pooled_connections: int
    children: set[int]

    @classmethod
    def take(cls) -> Census:
        gc.collect()
        objects = gc.get_objects()
        return cls(
            tasks={t for t in asyncio.all_tasks() if t is not asyncio.current_task()},
            # the loop's own default executor (asyncio_N, behind asyncio.to_thread) lives as long as the loop
            threads={t for t in threading.enumerate() if t.is_alive() and not t.name.startswith("asyncio_")},
            pooled_connections=sum(
                o.sync_engine.pool.checkedin() + o.sync_engine.pool.checkedout()  # type: ignore[attr-defined]
                for o in objects
                if isinstance(o, AsyncEngine)
            ),
            children={p.pid for p in psutil.Process().children(recursive=True)},
        )


class Clients:
    """Every HTTP client made while the test runs, held so that one dropped unclosed is still seen."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.made: list[Any] = []
        for cls in (httpx.Client, httpx.AsyncClient, aiohttp.ClientSession):
            monkeypatch.setattr(cls, "__init__", self._recording(cls.__init__))

    def _recording(self, init: Callable[..., None]) -> Callable[..., None]:
        def recorded(client: Any, *args: Any, **kwargs: Any) -> None:
            init(client, *args, **kwargs)
            self.made.append(client)

        return recorded

    def open(self) -> list[Any]:
        return [c for c in self.made if not (c.closed if isinstance(c, aiohttp.ClientSession) else c.is_closed)]


@pytest.fixture
def clients(monkeypatch: pytest.MonkeyPatch) -> Clients:
    return Clients(monkeypatch)


def _failing(real: Callable[..., AbstractAsyncContextManager[Any]]) -> Callable[..., AbstractAsyncContextManager[Any]]:
    """The domain starts for real, then its start fails before it hands over its service."""

    @asynccontextmanager
    async def start(*args: Any, **kwargs: Any) -> AsyncIterator[Any]:
        async with real(*args, **kwargs):
            raise RuntimeError("injected start failure")
        yield  # pragma: no cover - never reached

    return start


def _everything_on(data_dir: Path, chain_settings: dict[str, Any]) -> Settings:
    """Every domain on, each with the resources it can open here: the chain, x402, the marketplace with a kubo
    store and a pinning service (clients only: nothing is sent at start), royalties paid on a timer, fine-tuning
    with its runner, and the bundled local models."""
    return make_settings(
        data_dir,
        chain=chain_settings,
        storage={"backend": "kubo", "kubo_url": "http://127.0.0.1:9", "pinning_url": "http://127.0.0.1:9"},
        finetune={"royalty_payout_interval": 3600.0},
    )


async def _wait_settled(before: Census) -> Census:
    """Threads and child processes end a moment after they are told to; give them that moment."""
    for _ in range(50):
        after = Census.take()
        if after.threads <= before.threads and after.children <= before.children:
            return after
        await asyncio.sleep(0.1)
    return after


def _assert_nothing_left(before: Census, after: Census, clients: Clients) -> None:
    assert clients.open() == [], "HTTP clients were left open"
    assert after.tasks <= before.tasks, f"tasks left running: {after.tasks - before.tasks}"
    assert after.threads <= before.threads, f"threads left running: {after.threads - before.threads}"
    assert after.pooled_connections == 0, "a database engine was left with connections"
    assert after.children <= before.children, f"child processes left: {after.children - before.children}"


@pytest.mark.parametrize(("module", "name"), DOMAINS, ids=[f"{m.__name__.split('.')[1]}.{n}" for m, n in DOMAINS])
async def test_a_failed_start_stops_what_had_started(
    module: Any, name: str, tmp_path: Path, chain: Chain, clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _everything_on(tmp_path, chain.settings())
    before = Census.take()
    monkeypatch.setattr(module, name, _failing(getattr(module, name)))
    with pytest.raises(RuntimeError, match="injected start failure"):
        async with Services.running(settings):
            pytest.fail("the service started although a domain failed")
    _assert_nothing_left(before, await _wait_settled(before), clients)


async def test_a_failure_after_the_embedded_chain_stops_its_node(
    tmp_path: Path, clients: Clients, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The embedded dev chain is a child process (anvil): a later domain failing must not leave it running."""
    settings = _everything_on(tmp_path, {"dev": {"port": free_port(), "state_interval": 3600}})
    before = Census.take()
    monkeypatch.setattr(payments, "running", _failing(payments.running))
    with pytest.raises(RuntimeError, match="injected start failure"):
        async with Services.running(settings):
            pytest.fail("the service started although a domain failed")
    _assert_nothing_left(before, await _wait_settled(before), clients)


async def test_start_and_stop_leave_nothing(tmp_path: Path, chain: Chain, clients: Clients) -> None:
    settings = _everything_on(tmp_path, chain.settings())
    before = Census.take()
    async with Services.running(settings) as services:
        running = Census.take()
        assert running.tasks > before.tasks, "the periodic jobs and the runner run while the service does"
        assert services.chain and services.x402 and services.marketplace and services.royalties
        assert services.fine_tuning is not None
        assert len(clients.open()) >= 2, "the kubo store's and the pinning service's clients are open"
    _assert_nothing_left(before, await _wait_settled(before), clients)


async def test_switched_off_domains_are_none(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, finetune={"enabled": False})  # the chain is off in make_settings
    async with Services.running(settings) as services:
        assert (services.chain, services.x402, services.marketplace, services.royalties) == (None,) * 4
        assert services.fine_tuning is None
        assert services.fine_tuned is not None, "models trained earlier are still served"
