from collections.abc import AsyncIterator

from cluster.wire.sse import DONE, split_events


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def collect(*parts: bytes) -> list[bytes]:
    return [event async for event in split_events(chunks(*parts))]


async def test_events_split_across_and_within_chunks() -> None:
    events = await collect(b'data: {"a":1}\n', b'\ndata: {"b"', b":2}\n\ndata: [DONE]\n\n")
    assert events == [b'data: {"a":1}\n\n', b'data: {"b":2}\n\n', DONE]


async def test_crlf_comments_and_a_missing_final_blank_line() -> None:
    events = await collect(b': keep-alive\r\n\r\ndata: {"a":1}\r\n\r\n', b"data: [DONE]")
    assert events == [b'data: {"a":1}\n\n', DONE]
