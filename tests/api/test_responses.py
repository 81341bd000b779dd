"""A stream is settled even when the client is gone before its first event is sent."""

from collections.abc import AsyncIterator

import pytest

from cluster.api.responses import served_response
from cluster.gateway.context import RequestContext, Served


@pytest.mark.parametrize("spec_version", ["2.3", "2.4"])
async def test_a_stream_that_never_started_is_still_closed(spec_version: str) -> None:
    started, closed = [], []

    async def events() -> AsyncIterator[bytes]:
        started.append(True)
        yield b"data: {}\n\n"

    async def close() -> None:
        closed.append(True)

    response = served_response(Served("p", events=events(), close=close), RequestContext(endpoint="chat.completions"))

    async def receive() -> dict[str, object]:
        return {"type": "http.disconnect"}

    async def send(message: dict[str, object]) -> None:
        raise OSError("client went away")

    scope = {"type": "http", "asgi": {"spec_version": spec_version}, "method": "POST", "headers": []}
    with pytest.raises(Exception):  # noqa: B017 - whichever way Starlette reports the dead client
        await response(scope, receive, send)
    assert closed == [True]
