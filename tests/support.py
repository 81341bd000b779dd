"""Helpers for tests that run real processes and servers on loopback."""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import uvicorn

ROOT = Path(__file__).resolve().parent.parent
MOCK_UPSTREAM = ROOT / "bench" / "mock_upstream.py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not come up in {timeout}s")


class MockUpstream:
    """``bench/mock_upstream.py`` in its own process."""

    def __init__(self, name: str, port: int | None = None, *args: str) -> None:
        self.name = name
        self.port = port or free_port()
        self.args = args
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def start(self) -> MockUpstream:
        command = [
            sys.executable,
            str(MOCK_UPSTREAM),
            "--port",
            str(self.port),
            "--name",
            self.name,
            *self.args,
        ]
        self.process = subprocess.Popen(command)
        wait_http(f"http://127.0.0.1:{self.port}/health")
        return self

    def kill(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None


class ServerThread:
    """A real uvicorn server for an app, on a free loopback port, in a thread of this process."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ServerThread:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


async def bootstrap_admin(settings: Any, credit: int = 0) -> tuple[str, str]:
    """Create the first admin (and credit it) in ``settings``' database; returns (user id, API key)."""
    from cluster.billing.protocol import AdjustRequest
    from cluster.services import Services

    async with Services.running(settings) as services:
        user, key = await services.auth.init_admin("test-admin")
        if credit:
            await services.billing.credit(AdjustRequest(user_id=user.id, amount=credit, idempotency_key="bootstrap"))
        return user.id, key.key


def away_from_minute_boundary(margin: float = 8.0) -> None:
    """Rate-limit windows are calendar minutes: start a counting test where one window holds all of it."""
    into = time.time() % 60
    if into > 60 - margin:
        time.sleep(60 - into + 0.05)


class CuttableProxy:
    """A TCP proxy on loopback in front of a real server (PostgreSQL): ``cut`` drops every connection and refuses
    new ones, as an outage does; ``restore`` listens again on the same port."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = free_port()
        self._server: asyncio.AbstractServer | None = None
        self._transports: set[asyncio.BaseTransport] = set()

    async def start(self) -> CuttableProxy:
        self._server = await asyncio.start_server(self._pipe, "127.0.0.1", self.port)
        return self

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None
        for transport in list(self._transports):
            transport.abort()
        self._transports.clear()

    restore = start

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._transports |= {writer.transport, upstream_writer.transport}

        async def copy(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            try:
                while data := await source.read(65536):
                    sink.write(data)
                    await sink.drain()
            except (OSError, ConnectionError):
                pass
            finally:
                sink.transport.abort()

        await asyncio.gather(copy(reader, upstream_writer), copy(upstream_reader, writer))
