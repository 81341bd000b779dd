"""``GET /metrics``: Prometheus text for an admin key; requests, errors by code and live provider state; no key or
caller-chosen value in any label; with several workers, every worker's counts add up whichever one is scraped."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import Secured
from tests.support import MockUpstream, bootstrap_admin, free_port, wait_http

CHAT = {"model": "mock-model", "messages": [{"role": "user", "content": "x"}]}
SERVED = 'cluster_requests_total{endpoint="chat.completions",model="mock-model",provider="up",status="200"}'


async def test_metrics_count_requests_errors_and_provider_state(secured: Secured) -> None:
    http = secured.http
    _, paying = await secured.new_user(credit=1_000_000)
    _, broke = await secured.new_user()
    assert (await http.post("/v1/chat/completions", json=CHAT, headers=secured.auth(paying))).status_code == 200
    assert (await http.post("/v1/chat/completions", json=CHAT, headers=secured.auth(broke))).status_code == 402
    nonsense = {**CHAT, "model": "sk-cluster-not-a-model-but-a-secret"}
    assert (await http.post("/v1/chat/completions", json=nonsense, headers=secured.auth(paying))).status_code == 404
    assert (await http.get("/metrics")).status_code == 401, "admins only, unless metrics.public"
    scraped = await http.get("/metrics", headers=secured.auth())
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    text = scraped.text
    await secured.app.state.services.request_log.flush()  # type: ignore[attr-defined]
    assert (
        'cluster_requests_total{endpoint="chat.completions",model="mock-model",provider="up",status="200"} 1.0' in text
    )
    assert 'cluster_errors_total{code="insufficient_quota",status="402"} 1.0' in text
    assert 'cluster_errors_total{code="model_not_found",status="404"} 1.0' in text
    assert 'cluster_provider_in_flight{provider="up"} 0.0' in text
    assert 'cluster_provider_breaker_open{provider="up"} 0.0' in text
    assert "cluster_request_duration_seconds_bucket" in text and "cluster_tokens_total" in text
    assert "cluster_request_log_pending" in text
    assert "sk-cluster" not in text, "no key, and no model name a caller made up"


@pytest.mark.slow
def test_with_several_workers_every_worker_is_counted(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    import asyncio

    from cluster.settings import Settings

    env = {
        **os.environ,
        "CLUSTER_DATA_DIR": str(tmp_path),
        "CLUSTER_LOCAL__ENABLED": "false",
        "CLUSTER_CHAIN__ENABLED": "false",
        "CLUSTER_FINETUNE__ENABLED": "false",
        "CLUSTER_AUTH__REQUIRED": "false",
        "CLUSTER_METRICS__PUBLIC": "true",
        "CLUSTER_PROVIDERS": f'[{{"name": "up", "base_url": "{mock_upstream.url}", "models": ["mock-model"]}}]',
    }
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    asyncio.run(bootstrap_admin(Settings(data_dir=tmp_path, chain={"enabled": False}, local={"enabled": False})))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "cluster", "serve", "--port", str(port), "--workers", "2"], env=env, cwd=tmp_path
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health", timeout=60)
        for _ in range(20):  # new connections: the kernel spreads them over both workers
            with httpx.Client(base_url=url) as http:
                assert http.post("/v1/chat/completions", json=CHAT).status_code == 200
        for _ in range(6):  # whichever worker answers the scrape, the sum is the same
            with httpx.Client(base_url=url) as http:
                assert f"{SERVED} 20.0" in http.get("/metrics").text
            time.sleep(0.05)
    finally:
        server.terminate()
        server.wait(timeout=30)
