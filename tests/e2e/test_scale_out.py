"""Two real ``cluster serve`` processes on one PostgreSQL and one Redis behave as one service: one rate
limit, one balance, one set of keys. And a gateway killed with SIGKILL mid-stream leaves no hold behind."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cluster.settings import Settings
from tests.support import MockUpstream, away_from_minute_boundary, bootstrap_admin, free_port, wait_http

pytestmark = pytest.mark.slow
CHAT = "/v1/chat/completions"
BODY = {"model": "mock-model", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 16}
COST = 26  # see tests/billing/test_charging.py


def write_config(tmp_path: Path, database_url: str, upstream: MockUpstream) -> Path:
    config = tmp_path / "cluster.toml"
    config.write_text(f"""
data_dir = "{tmp_path / "data"}"
database_url = "{database_url}"
redis_url = "redis://127.0.0.1:6379/0"
[limits]
key_rpm = 30
[chain]
enabled = false
[billing]
heartbeat_interval = 0.5
sweep_interval = 0.5
[[providers]]
name = "up"
base_url = "{upstream.url}"
models = {{ "mock-model" = "mock" }}
[[models]]
id = "mock-model"
input_price = 1000000
output_price = 2000000
""")
    return config


class Gateway:
    def __init__(self, config: Path, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with open(log, "ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "cluster", "serve", "--port", str(self.port), "--config", str(config)],
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
            )
        wait_http(f"{self.url}/health", timeout=60)

    def stop(self, sig: int = signal.SIGINT) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            self.process.wait(timeout=30)


@pytest.fixture
def gateways(
    tmp_path: Path, postgres_url: str, mock_upstream: MockUpstream
) -> Iterator[tuple[list[Gateway], str, str]]:
    config = write_config(tmp_path, postgres_url, mock_upstream)
    _, admin_key = asyncio.run(bootstrap_admin(Settings.load(config)))
    running = [Gateway(config, tmp_path / f"gateway-{i}.log") for i in range(2)]
    try:
        yield running, admin_key, str(config)
    finally:
        for gateway in running:
            gateway.stop()


def new_user(gateway: Gateway, admin_key: str, credit: int) -> tuple[str, str]:
    admin = {"authorization": f"Bearer {admin_key}"}
    user = httpx.post(f"{gateway.url}/v1/users", json={"name": "agent"}, headers=admin).json()["id"]
    key = httpx.post(f"{gateway.url}/v1/keys", json={"user_id": user}, headers=admin).json()["key"]
    credit_body = {"user_id": user, "amount": credit, "idempotency_key": f"seed-{user}"}
    assert httpx.post(f"{gateway.url}/v1/admin/credit", json=credit_body, headers=admin).status_code == 200
    return user, key


def test_two_processes_share_limits_balances_and_keys(gateways: tuple[list[Gateway], str, str]) -> None:
    (a, b), admin_key, _ = gateways
    _, key = new_user(a, admin_key, credit=1_000_000)
    headers = {"authorization": f"Bearer {key}"}
    away_from_minute_boundary()

    async def burst() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as http:
            calls = [http.post((a, b)[i % 2].url + CHAT, json=BODY, headers=headers) for i in range(80)]
            return [r.status_code for r in await asyncio.gather(*calls)]

    statuses = asyncio.run(burst())
    assert statuses.count(200) == 30 and statuses.count(429) == 50, "key_rpm = 30 across both processes"
    # Each process pays from its own lease on the account and gives back what it did not use once idle
    # (billing.lease_idle, 1 s): then both see one balance.
    deadline = time.monotonic() + 10
    while True:
        balances = [httpx.get(g.url + "/v1/balance", headers=headers).json() for g in (a, b)]
        if (balances[0] == balances[1] and balances[0]["held"] == 0) or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert balances[0] == balances[1]
    assert balances[0]["available"] == 1_000_000 - 30 * COST and balances[0]["held"] == 0

    key_id = httpx.get(a.url + "/v1/keys", headers=headers).json()["data"][0]["id"]
    assert httpx.delete(f"{a.url}/v1/keys/{key_id}", headers=headers).status_code == 200
    time.sleep(2.1)  # the other process trusts a looked-up key for at most auth.cache_ttl (2 s)
    refused = httpx.get(b.url + "/v1/balance", headers=headers)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "revoked_api_key"


def test_kill_9_mid_stream_leaves_no_dangling_hold(gateways: tuple[list[Gateway], str, str], tmp_path: Path) -> None:
    (a, b), admin_key, config = gateways
    _, key = new_user(a, admin_key, credit=50_000_000)
    headers = {"authorization": f"Bearer {key}"}
    long = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "Tell a long story."}],
        "max_tokens": 1500,
        "stream": True,
    }
    with httpx.Client(timeout=60) as http, http.stream("POST", a.url + CHAT, json=long, headers=headers) as response:
        assert response.status_code == 200
        for i, _ in enumerate(response.iter_lines()):
            if i == 6:
                held = httpx.get(b.url + "/v1/balance", headers=headers).json()["held"]
                assert held > 0, "the stream's hold is open"
                a.stop(signal.SIGKILL)
                break
    deadline = time.monotonic() + 15
    balance = {}
    while time.monotonic() < deadline:  # b's sweeper sees a's heartbeat go stale and releases the hold
        balance = httpx.get(b.url + "/v1/balance", headers=headers).json()
        if balance["held"] == 0:
            break
        time.sleep(0.25)
    assert balance == {**balance, "held": 0, "available": 50_000_000}
    restarted = Gateway(Path(config), tmp_path / "gateway-restarted.log")
    try:
        assert httpx.get(restarted.url + "/v1/balance", headers=headers).json()["held"] == 0
    finally:
        restarted.stop()
