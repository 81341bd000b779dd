"""No prompt or completion text is retained: a unique marker goes through every endpoint (local models and
an upstream that echoes it back; spoken, uploaded inside an audio file and named in its filename, ranked, drawn),
then the database files, the data dir, the server's temporary folder and its log are scanned."""

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
        f'[[providers]]\nname = "echo"\nbase_url = "{mock_upstream.url}"\nmodels = ["echo-model", "echo-image"]\n'
        '[[models]]\nid = "echo-image"\ntask = "image"\n'
    )
    scratch = tmp_path / "tmp"  # the server's temporary folder: spooled uploads would land here
    scratch.mkdir()
    port = free_port()
    log_path = tmp_path / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "TMPDIR": str(scratch)}
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
            ("/v1/audio/speech", {"model": "tts-1", "voice": "alloy", "input": f"Say {marker} aloud."}),
            ("/v1/rerank", {"model": "rerank-e5", "query": marker, "documents": [marker, f"not {marker}"]}),
            ("/v1/images/generations", {"model": "echo-image", "prompt": marker, "response_format": "url"}),
            ("/v1/images/generations", {"model": "echo-image", "prompt": marker}),
        ]
        echoed = 0
        for path, body in requests:
            response = httpx.post(base + path, json=body, timeout=60)
            echoed += marker in response.text
        assert echoed >= 2, "the echo upstream should have sent the marker back"
        # an upload carrying the marker in its name and in its bytes (a RIFF chunk players skip), 1.5 MB so that
        # the multipart parser spools it to a temporary file
        speech = httpx.post(base + "/v1/audio/speech", json={**requests[-4][1], "response_format": "wav"}, timeout=60)
        audio = _with_chunk(speech.content, marker.encode() * 40_000)
        files = {"file": (f"{marker}.wav", audio, "audio/wav")}
        for path in ("/v1/audio/transcriptions", "/v1/audio/translations"):
            model = "whisper-1" if path.endswith("transcriptions") else "whisper-base"
            response = httpx.post(base + path, files=files, data={"model": model, "prompt": marker}, timeout=120)
            assert response.status_code == 200, response.text
        uploads = 2
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)

    scanned = 0
    for path in [log_path, *data_dir.rglob("*"), *scratch.rglob("*")]:
        if path.is_file():
            scanned += 1
            assert marker.encode() not in path.read_bytes(), f"marker found in {path}"
    assert (data_dir / "cluster.db").exists() and scanned >= 2
    import sqlite3

    rows = sqlite3.connect(data_dir / "cluster.db").execute("SELECT count(*) FROM request_log").fetchone()[0]
    # Every request that reached the gateway left a metadata row; the invalid body was refused before it.
    assert rows == len(requests) - 1 + uploads + 1  # and the wav fetched for the upload


def _with_chunk(wav: bytes, payload: bytes) -> bytes:
    """``wav`` with an extra RIFF chunk before its data (readers skip chunks they do not know)."""
    import struct

    header, rest = wav[:12], wav[12:]
    return header + b"junk" + struct.pack("<I", len(payload)) + payload + rest
