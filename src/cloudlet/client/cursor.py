"""Lazy cursors over list endpoints (`{count, next, previous, results}`).

A cursor asks for a page only when the items already fetched run out, and follows the
server's `next` link (which carries the query) rather than counting offsets itself. An answer
without `results` is not a list: the cursor yields it as its only item.
"""

from __future__ import annotations

from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

from cloudlet.client.calls import Params

__all__ = ["AsyncCursor", "Cursor"]

Fetch = Callable[[str, Params | None], Any]
AsyncFetch = Callable[[str, Params | None], Awaitable[Any]]
Rebase = Callable[[str], str]


class _Pages:
    """What both cursors keep: the items fetched but not yet handed out, and where next."""

    items_key = "results"  # the list an answer carries its items in

    def __init__(self, url: str, params: Params | None, rebase: Rebase) -> None:
        self._next_url: str | None = url
        self._params = params
        self._rebase = rebase
        self._items: deque[Any] = deque()
        self._last: dict[str, Any] | None = None

    def _more(self) -> tuple[str, Params | None] | None:
        """The next request to make, or None when every page has been fetched."""
        if self._items or self._next_url is None:
            return None
        url, params = self._next_url, self._params
        self._params = None  # the server's `next` link already carries the query
        return url, params

    def _take(self, answer: Any) -> None:
        if isinstance(answer, dict) and isinstance(answer.get(self.items_key), list):
            self._last = answer
            self._items.extend(answer[self.items_key])
            link = answer.get("next")
            self._next_url = self._rebase(link) if link else None
        else:
            self._last = answer if isinstance(answer, dict) else {}
            self._items.append(answer)
            self._next_url = None

    def _field(self, name: str, default: Any) -> Any:
        return (self._last or {}).get(name, default)


class Cursor(_Pages):
    """Iterate items across pages: `for item in cursor`, `cursor.next()`, `cursor.has_next`,
    `cursor.pages()`, and `cursor.get("count")` for top-level fields of the latest page."""

    def __init__(self, fetch: Fetch, url: str, params: Params | None, rebase: Rebase) -> None:
        super().__init__(url, params, rebase)
        self._fetch = fetch

    def _fill(self) -> bool:
        """Fetch until an item is waiting (pages may be empty); False at the end."""
        while (request := self._more()) is not None:
            self._take(self._fetch(*request))
        return bool(self._items)

    def __iter__(self) -> Iterator[Any]:
        return self

    def __next__(self) -> Any:
        if not self._fill():
            raise StopIteration
        return self._items.popleft()

    def next(self) -> Any:
        """The next item; raises StopIteration after the last one."""
        return self.__next__()

    @property
    def has_next(self) -> bool:
        """Whether another item is there (fetching the next page to know, if needed)."""
        return self._fill()

    def pages(self) -> Iterator[list[Any]]:
        """The items a page at a time, from where the cursor stands."""
        while self._fill():
            page = list(self._items)
            self._items.clear()
            yield page

    def get(self, name: str, default: Any = None) -> Any:
        """A top-level field of the latest page, such as `count` (fetches the first page)."""
        if self._last is None:
            self._fill()
        return self._field(name, default)


class AsyncCursor(_Pages):
    """The async twin of `Cursor`: `async for item in cursor`, `await cursor.next()`,
    `await cursor.has_next()`, `async for page in cursor.pages()`, `await cursor.get(name)`."""

    def __init__(self, fetch: AsyncFetch, url: str, params: Params | None, rebase: Rebase
                 ) -> None:
        super().__init__(url, params, rebase)
        self._fetch = fetch

    async def _fill(self) -> bool:
        while (request := self._more()) is not None:
            self._take(await self._fetch(*request))
        return bool(self._items)

    def __aiter__(self) -> AsyncIterator[Any]:
        return self

    async def __anext__(self) -> Any:
        if not await self._fill():
            raise StopAsyncIteration
        return self._items.popleft()

    async def next(self) -> Any:
        """The next item; raises StopAsyncIteration after the last one."""
        return await self.__anext__()

    async def has_next(self) -> bool:
        """Whether another item is there (a method here: finding out may need a request)."""
        return await self._fill()

    async def pages(self) -> AsyncIterator[list[Any]]:
        while await self._fill():
            page = list(self._items)
            self._items.clear()
            yield page

    async def get(self, name: str, default: Any = None) -> Any:
        if self._last is None:
            await self._fill()
        return self._field(name, default)
