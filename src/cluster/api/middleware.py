"""Pure ASGI middleware (nothing here may buffer a streaming response)."""

from __future__ import annotations

import logging
import time
import uuid

import orjson
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cluster.api.errors import error_response, internal_error
from cluster.errors import PayloadTooLarge
from cluster.tracing import Tracing, trace_id

log = logging.getLogger("cluster.api")
access = logging.getLogger("cluster.access")


class AccessLog:
    """The edge of every request: its root span when tracing is on (``x-trace-id`` answers its id), and one JSON
    line on the ``cluster.access`` logger (``cluster serve`` writes it to stdout): time, method, path, status,
    duration, the request id (which every response carries in ``x-request-id``: the inference path's own id, or
    one made here) and the trace id. Never a body, a query string or a header's value."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        services = getattr(scope["app"].state, "services", None)
        tracing: Tracing = services.tracing if services is not None else Tracing()
        started = time.perf_counter()
        status, request_id = 0, ""
        with tracing.span(scope["method"], **{"http.method": scope["method"]}) as span:
            trace = trace_id(span)

            async def watched(message: Message) -> None:
                nonlocal status, request_id
                if message["type"] == "http.response.start":
                    status = message["status"]
                    headers = MutableHeaders(scope=message)
                    request_id = headers.get("x-request-id") or uuid.uuid4().hex
                    headers.setdefault("x-request-id", request_id)
                    if trace is not None:
                        headers["x-trace-id"] = trace
                await send(message)

            try:
                await self.app(scope, receive, watched)
            finally:
                if span is not None:  # named by its route template, once routed: a bounded set of names
                    route = getattr(scope.get("route"), "path", None)
                    span.update_name(f"{scope['method']} {route or 'unmatched'}")
                    span.set_attribute("http.status_code", status)
                    span.set_attribute("cluster.request_id", request_id)
                line = {
                    "ts": round(time.time(), 3),
                    "request_id": request_id,
                    "trace_id": trace,
                    "method": scope["method"],
                    "path": scope["path"],
                    "status": status,
                    "ms": round((time.perf_counter() - started) * 1000, 2),
                }
                if access.isEnabledFor(logging.INFO):
                    access.info(orjson.dumps(line).decode())


class Unexpected:
    """The last line for an exception nothing else handled: OpenAI's 500 body (nothing of the exception in it),
    logged here, and not re-raised. Starlette's own handler re-raises after answering, and uvicorn then closes the
    connection, so a client's next request on it would meet a reset. Mid-stream there is nothing left to answer:
    the stream just ends."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watched(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, watched)
        except Exception:
            log.exception("unhandled error on %s %s", scope.get("method"), scope.get("path"))
            if not started:
                await internal_error()(scope, receive, send)


class BodyLimit:
    """413 for request bodies over ``max_bytes``: at once from ``content-length``; a body sent without a
    length is read up to the limit first, then replayed to the app."""

    def __init__(self, app: ASGIApp, max_bytes: int, uploads: dict[str, int] | None = None) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.uploads = uploads or {}  # path prefix -> its own limit (dataset uploads are large)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = next((v for prefix, v in self.uploads.items() if scope["path"].startswith(prefix)), self.max_bytes)
        if limit != self.max_bytes:
            # An upload streams to disk in the app: it is counted as it arrives, never buffered here.
            length = _content_length(scope)
            if length is not None and length > limit:
                await self._refuse(scope, receive, send, limit)
                return
            await self.app(scope, _counted(receive, limit), send)
            return
        length = _content_length(scope)
        if length is not None:
            if length > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
            return
        if scope["method"] in ("GET", "HEAD", "DELETE", "OPTIONS"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            if message["type"] != "http.request" or not message.get("more_body", False):
                break

        async def replay() -> Message:
            return messages.pop(0) if messages else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send, limit: int | None = None) -> None:
        await error_response(_too_large(limit or self.max_bytes))(scope, receive, send)


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"Request body is larger than the limit of {limit} bytes")


def _counted(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises 413 (through the app's error handling) once more than ``limit`` bytes came in:
    a body sent without a length cannot fill the disk."""
    seen = 0

    async def counting() -> Message:
        nonlocal seen
        message = await receive()
        seen += len(message.get("body", b""))
        if seen > limit:
            raise _too_large(limit)
        return message

    return counting


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
