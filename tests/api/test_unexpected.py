"""An unexpected failure answers OpenAI's 500 body and keeps the connection: the client's next request on the same
kept-alive connection is served (uvicorn closes a connection whose app raised after answering)."""

from __future__ import annotations

import socket
from pathlib import Path

from cluster.api.deps import get_inference
from cluster.app import create_app
from tests.conftest import make_settings
from tests.support import ServerThread

CHAT = b'{"model": "m", "messages": [{"role": "user", "content": "x"}]}'


class _Broken:
    async def chat(self, *_: object) -> None:
        raise RuntimeError("a bug")


def _request(path: bytes, body: bytes = b"") -> bytes:
    method = b"POST" if body else b"GET"
    head = b"%s %s HTTP/1.1\r\nhost: t\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
    return head % (method, path, len(body)) + body


def _response(sock: socket.socket) -> tuple[int, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        chunk = sock.recv(65536)
        assert chunk, "the server closed the connection"
        body += chunk
    return int(head.split()[1]), body


def test_a_500_keeps_the_connection(tmp_path: Path) -> None:
    app = create_app(make_settings(tmp_path, local={"enabled": False}))
    app.dependency_overrides[get_inference] = _Broken
    with ServerThread(app) as server, socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(_request(b"/v1/chat/completions", CHAT))
        status, body = _response(sock)
        assert status == 500 and b'"code":"internal_error"' in body and b"a bug" not in body
        sock.sendall(_request(b"/health"))
        assert _response(sock)[0] == 200
