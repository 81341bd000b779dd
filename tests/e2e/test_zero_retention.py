"""No prompt or completion text is retained: a unique marker goes through every endpoint (local models and
an upstream that echoes it back), then the database files, the data dir and the server's log are scanned."""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import httpx
import pytest

from tests.support import MockUpstream, free_port, wait_http

pytestmark = pytest.mark.slow


def test_marker_is_nowhere_after_a_run(tmp_path: Path, mock_upstream: MockUpstream) -> None:
    marker = f"zr-{uuid.uuid4().hex}"
    data_dir = tmp_path / "data"
    config = tmp_path / "cluster.toml"
    config.write_text(
        f'data_dir = "{data_dir}"\n[auth]\nrequired = false\n[limits]\nip_rpm = 100000\n[chain]\nenabled = false\n'
        f'[[providers]]\nname = "echo"\nbase_url = "{mock_upstream.url}"\nmodels = ["echo-model"]\n'
    )
    port = free_port()
    log_path = tmp_path / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "cluster", "serve", "--port", str(port), "--config", str(config)],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=tmp_path,
        )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/health", timeout=60)
        said = [{"role": "user", "content": f"Please repeat {marker} exactly."}]
        requests = [
            ("/v1/chat/completions", {"model": "smollm2", "messages": said, "max_tokens": 24}),
            (
                "/v1/chat/completions",
                {"model": "smollm2", "messages": said, "max_tokens": 24, "stream": True},
            ),
            ("/v1/chat/completions", {"model": "echo-model", "messages": said, "mock_echo": True}),
            (
                "/v1/chat/completions",
                {"model": "echo-model", "messages": said, "mock_echo": True, "stream": True},
            ),
            ("/v1/chat/completions", {"model": "echo-model", "messages": said, "mock_status": 500}),
            ("/v1/chat/completions", {"model": "smollm2", "messages": said, "temperature": 9}),
            ("/v1/embeddings", {"model": "all-minilm-l6-v2", "input": [marker, f"{marker} again"]}),
        ]
        echoed = 0
        for path, body in requests:
            response = httpx.post(base + path, json=body, timeout=60)
            echoed += marker in response.text
        assert echoed >= 2, "the echo upstream should have sent the marker back"
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)

    scanned = 0
    for path in [log_path, *data_dir.rglob("*")]:
        if path.is_file():
            scanned += 1
            assert marker.encode() not in path.read_bytes(), f"marker found in {path}"
    assert (data_dir / "cluster.db").exists() and scanned >= 2
    import sqlite3

    rows = sqlite3.connect(data_dir / "cluster.db").execute("SELECT count(*) FROM request_log").fetchone()[0]
    # Every request that reached the gateway left a metadata row; the invalid body was refused before it.
    assert rows == len(requests) - 1
