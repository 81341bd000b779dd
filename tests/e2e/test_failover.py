"""Two upstream processes; one is killed during a run: requests keep succeeding through the other, its
breaker opens, and once it is back a half-open probe closes the breaker again."""

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from cluster.app import create_app
from tests.conftest import make_settings, mock_provider
from tests.support import MockUpstream

pytestmark = pytest.mark.slow
CHAT = "/v1/chat/completions"


async def test_kill_one_upstream_mid_run_and_recover(tmp_path: Path) -> None:
    a, b = MockUpstream("a").start(), MockUpstream("b").start()
    settings = make_settings(
        tmp_path,
        local={"enabled": False},
        providers=[mock_provider("a", a), mock_provider("b", b)],
        router={"breaker_failures": 3, "breaker_cooldown": 1.0},
    )
    app = create_app(settings)
    restarted = MockUpstream("a", a.port)
    try:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://cluster") as http:
                served: dict[str, int] = {}
                failures: list[str] = []

                async def worker(stop: float, stream: bool) -> None:
                    body = {
                        "model": "mock-model",
                        "messages": [{"role": "user", "content": "x"}],
                        "stream": stream,
                    }
                    while time.monotonic() < stop:
                        response = await http.post(CHAT, json=body)
                        complete = response.text.rstrip().endswith("[DONE]") if stream else "choices" in response.json()
                        if response.status_code != 200 or not complete or "stream_interrupted" in response.text:
                            failures.append(f"{response.status_code} {response.text[:200]}")
                        provider = response.headers.get("x-cluster-provider", "?")
                        served[provider] = served.get(provider, 0) + 1

                async def killer() -> None:
                    await asyncio.sleep(0.4)
                    a.kill()

                stop = time.monotonic() + 1.5
                await asyncio.gather(*(worker(stop, stream=False) for _ in range(8)), killer())
                assert not failures, failures[:3]
                assert served.get("a", 0) > 0 and served.get("b", 0) > served.get("a", 0)

                providers = (await http.get("/health")).json()["providers"]
                assert providers["a"]["state"] == "open"
                assert providers["a"]["failed"] >= 3
                assert providers["b"]["state"] == "closed"

                # With a down, streams fail over too.
                body = {"model": "mock-model", "messages": [{"role": "user", "content": "x"}], "stream": True}
                for _ in range(5):
                    response = await http.post(CHAT, json=body)
                    assert response.headers["x-cluster-provider"] == "b"
                    assert response.text.rstrip().endswith("[DONE]")

                restarted.start()
                await asyncio.sleep(1.1)  # the cooldown
                recovered = False
                deadline = time.monotonic() + 10
                while not recovered and time.monotonic() < deadline:
                    stop = time.monotonic() + 0.3
                    served.clear()
                    await asyncio.gather(*(worker(stop, stream=False) for _ in range(8)))
                    recovered = served.get("a", 0) > 0
                assert recovered, "a never served again"
                assert (await http.get("/health")).json()["providers"]["a"]["state"] == "closed"
                assert not failures, failures[:3]
    finally:
        for upstream in (a, b, restarted):
            upstream.kill()
