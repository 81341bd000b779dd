"""Server-sent events as bytes: splitting an upstream byte stream into whole events without parsing them,
and the few events the gateway writes itself."""

from __future__ import annotations

from collections.abc import AsyncIterator

import orjson

DONE = b"data: [DONE]\n\n"
DONE_PREFIX = b"data: [DONE]"
_SEPARATORS = (b"\n\n", b"\r\n\r\n")


async def split_events(chunks: AsyncIterator[bytes]) -> AsyncIterator[bytes]:
    """Yield each complete event (normalised to end in a blank line); comments and keep-alives are dropped."""
    buffer = b""
    async for chunk in chunks:
        buffer += chunk
        while True:
            cut, width = _next_boundary(buffer)
            if cut < 0:
                break
            event, buffer = buffer[:cut], buffer[cut + width :]
            if event.startswith(b"data:"):
                yield event + b"\n\n"
    if buffer.strip().startswith(b"data:"):
        yield buffer.strip() + b"\n\n"


def _next_boundary(buffer: bytes) -> tuple[int, int]:
    best, width = -1, 0
    for sep in _SEPARATORS:
        i = buffer.find(sep)
        if i >= 0 and (best < 0 or i < best):
            best, width = i, len(sep)
    return best, width


def event(payload: object) -> bytes:
    return b"data: " + orjson.dumps(payload) + b"\n\n"


def data_of(event_bytes: bytes) -> bytes:
    """The JSON payload of one ``data:`` event."""
    return event_bytes[5:].strip()
