"""Pure ASGI middleware (nothing here may buffer a streaming response)."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from cluster.api.errors import error_response
from cluster.errors import PayloadTooLarge


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
            # An upload streams to disk in the app; only its declared length is checked here.
            length = _content_length(scope)
            if length is not None and length > limit:
                await self._refuse(scope, receive, send)
                return
            await self.app(scope, receive, send)
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

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = PayloadTooLarge(f"Request body is larger than the limit of {self.max_bytes} bytes")
        await error_response(error)(scope, receive, send)


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None
    return None
