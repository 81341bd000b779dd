"""List results as the openai client returns them: a page with ``.data`` and ``has_more`` that, iterated, walks
every page (``for x in client.models.list()``; ``async for`` on an ``AsyncCluster``'s pages)."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class Page(Generic[T]):
    object = "list"

    def __init__(self, data: list[T], has_more: bool = False, following: Callable[[], Any] | None = None) -> None:
        """``following()`` fetches the next page (a ``Page``, or an awaitable of one for the async client)."""
        self.data = data
        self.has_more = has_more
        self._following = following

    def next_page(self) -> Any:
        """The next page (awaitable on ``AsyncCluster``), or None after the last."""
        return self._following() if self.has_more and self._following is not None else None

    def __iter__(self) -> Iterator[T]:
        page: Page[T] | None = self
        while page is not None:
            yield from page.data
            following = page.next_page()
            if inspect.isawaitable(following):
                following.close()  # type: ignore[attr-defined]
                raise TypeError("a page of AsyncCluster: iterate it with `async for`")
            page = following

    async def __aiter__(self) -> AsyncIterator[T]:
        page: Page[T] | None = self
        while page is not None:
            for item in page.data:
                yield item
            following = page.next_page()
            page = await following if inspect.isawaitable(following) else following

    def __len__(self) -> int:
        """Items on this page (``len(page.data)``)."""
        return len(self.data)

    def __repr__(self) -> str:
        return f"Page(data={self.data!r}, has_more={self.has_more})"


def page_of(parse: Callable[[Any], T], following: Callable[[dict[str, Any], list[T]], Any] | None = None) -> Any:
    """The ``parse`` of a list response: each item parsed, and how to fetch the page after this one."""

    def parsed(body: dict[str, Any]) -> Page[T]:
        items = [parse(item) for item in body["data"]]
        more = bool(body.get("has_more")) and bool(items)
        return Page(items, more, (lambda: following(body, items)) if following and more else None)

    return parsed
