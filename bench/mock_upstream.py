"""A fast OpenAI-compatible mock upstream, run in its own process by the benchmark and the failover tests.

Canned JSON for chat and embeddings, real media for the other modalities (``mock_media.py``), a canned SSE
stream (``--chunks`` events) for streaming chat. It never stores anything. Test hooks ride in the request body as
extra parameters, which the gateway passes through: ``mock_status`` (answer with that status),
``mock_break_after`` (drop the connection after N stream events), ``mock_echo`` (answer with the last user
message, for the zero-retention test).

    python bench/mock_upstream.py --port 9001 --name a
"""

from __future__ import annotations

import argparse
import asyncio
import time
from typing import Any

import orjson

try:  # run as a script (its folder on the path) or imported as bench.mock_upstream
    import mock_media
except ImportError:  # pragma: no cover
    from bench import mock_media

Scope = dict[str, Any]


def build_app(name: str, chunks: int, delay_ms: float) -> Any:
    created = int(time.time())
    fingerprint = f"mock-{name}"
    words = [f" tok{i}" for i in range(chunks)]
    canned = orjson.dumps(
        {
            "id": "chatcmpl-mock",
            "object": "chat.completion",
            "created": created,
            "model": "mock",
            "system_fingerprint": fingerprint,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "".join(words)},
                    "finish_reason": "stop",
                }
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": chunks, "total_tokens": 10 + chunks},
        }
    )
    headers = [(b"content-type", b"application/json"), (b"x-mock-upstream", name.encode())]
    sse_headers = [(b"content-type", b"text/event-stream"), (b"x-mock-upstream", name.encode())]
    image_headers = [(b"content-type", b"image/png")]

    def chunk(delta: dict[str, Any], finish: str | None = None) -> bytes:
        body = {
            "id": "chatcmpl-mock",
            "object": "chat.completion.chunk",
            "created": created,
            "model": "mock",
            "system_fingerprint": fingerprint,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        }
        return b"data: " + orjson.dumps(body) + b"\n\n"

    canned_events = [chunk({"role": "assistant", "content": ""}), *(chunk({"content": w}) for w in words)]
    canned_events.append(chunk({}, "stop"))
    usage_event = (
        b"data: "
        + orjson.dumps(
            {
                "id": "chatcmpl-mock",
                "object": "chat.completion.chunk",
                "created": created,
                "model": "mock",
                "choices": [],
                "usage": {"prompt_tokens": 10, "completion_tokens": chunks, "total_tokens": 10 + chunks},
            }
        )
        + b"\n\n"
    )

    async def read_body(receive: Any) -> bytes:
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                return body

    async def respond(send: Any, status: int, body: bytes, hdrs: list[tuple[bytes, bytes]] = headers) -> None:
        await send({"type": "http.response.start", "status": status, "headers": hdrs})
        await send({"type": "http.response.body", "body": body})

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        path = scope["path"]
        if scope["method"] == "GET":
            if "/mock-images/" in path:
                await respond(send, 200, mock_media.png(path.rsplit("/", 1)[-1].removesuffix(".png")), image_headers)
            elif path.endswith("/models"):
                await respond(send, 200, orjson.dumps({"object": "list", "data": [{"id": "mock", "object": "model"}]}))
            else:
                await respond(send, 200, b'{"status":"ok"}')
            return
        raw = await read_body(receive)
        host = dict(scope["headers"]).get(b"host", b"127.0.0.1").decode()
        media = mock_media.answer(name, path, raw, f"http://{host}")
        if media is not None:
            status, content_type, payload = media
            await respond(send, status, payload, [(b"content-type", content_type), (b"x-mock-upstream", name.encode())])
            return
        request = orjson.loads(raw)
        if delay_ms:
            await asyncio.sleep(delay_ms / 1000)
        if "mock_status" in request:
            error = {
                "error": {
                    "message": f"mock {name} says {request['mock_status']}",
                    "type": "mock",
                    "code": None,
                }
            }
            await respond(send, int(request["mock_status"]), orjson.dumps(error))
            return
        if path.endswith("/embeddings"):
            inputs = request["input"] if isinstance(request["input"], list) else [request["input"]]
            data = [{"object": "embedding", "index": i, "embedding": [0.125] * 8} for i in range(len(inputs))]
            usage = {"prompt_tokens": len(inputs), "total_tokens": len(inputs)}
            await respond(send, 200, orjson.dumps({"object": "list", "data": data, "model": "mock", "usage": usage}))
            return
        events, body = canned_events, canned
        if request.get("mock_echo"):
            text = str(request["messages"][-1]["content"])
            events = [chunk({"role": "assistant", "content": text}), chunk({}, "stop")]
            body = orjson.dumps(
                {
                    **orjson.loads(canned),
                    "choices": [
                        {
                            "index": 0,
                            "message": {"role": "assistant", "content": text},
                            "finish_reason": "stop",
                        }
                    ],
                }
            )
        if not request.get("stream"):
            await respond(send, 200, body)
            return
        await send({"type": "http.response.start", "status": 200, "headers": sse_headers})
        break_after = request.get("mock_break_after")
        for i, event in enumerate(events):
            if break_after is not None and i >= break_after:
                raise ConnectionAbortedError("mock upstream drops the stream on purpose")
            await send({"type": "http.response.body", "body": event, "more_body": True})
        if (request.get("stream_options") or {}).get("include_usage"):
            await send({"type": "http.response.body", "body": usage_event, "more_body": True})
        await send({"type": "http.response.body", "body": b"data: [DONE]\n\n"})

    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--name", default="mock")
    parser.add_argument("--chunks", type=int, default=8, help="content events per stream")
    parser.add_argument("--delay-ms", type=float, default=0.0, help="wait before answering")
    args = parser.parse_args()

    import uvicorn

    uvicorn.run(
        build_app(args.name, args.chunks, args.delay_ms),
        host=args.host,
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
