"""A client that goes away mid-stream: generation stops, the provider slot is freed, and the request log
records what was generated (status 499)."""

import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from cluster.app import create_app
from tests.conftest import make_settings
from tests.support import ServerThread

pytestmark = pytest.mark.slow


def test_disconnect_mid_stream_stops_generation_and_is_metered(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path))
    body = {
        "model": "smollm2",
        "messages": [{"role": "user", "content": "Write a long story about a lighthouse keeper."}],
        "max_tokens": 1500,
        "stream": True,
    }
    with ServerThread(app) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        with http.stream("POST", "/v1/chat/completions", json=body) as response:
            request_id = response.headers["x-request-id"]
            events = 0
            for line in response.iter_lines():
                events += line.startswith("data: ")
                if events >= 5:
                    break  # leaving the block closes the connection
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            state = http.get("/health").json()["providers"]["local-llama"]
            if state["in_flight"] == 0:
                break
            time.sleep(0.05)
        assert state["in_flight"] == 0, state
        started = time.perf_counter()  # the model is free again: a new request is served at once
        reply = http.post("/v1/chat/completions", json={**body, "stream": False, "max_tokens": 4})
        assert reply.status_code == 200 and time.perf_counter() - started < 5
    # The server has stopped, so its request log is written.
    query = "SELECT status, error_code, prompt_tokens, completion_tokens FROM request_log WHERE id = ?"
    with sqlite3.connect(tmp_path / "cluster.db") as db:
        status, error_code, prompt_tokens, completion_tokens = db.execute(query, (request_id,)).fetchone()
    assert status == 499 and error_code == "client_disconnected"
    assert 4 <= completion_tokens < 1500 and prompt_tokens > 5
