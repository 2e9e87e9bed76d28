"""`StreamData`: seed 002's way to pull one stream's points into a list and analyse them;
`AsyncStreamData` is the same on an `AsyncClient` (`await data.initialize_from_server()`).

    data = StreamData("s--0000-0003--0000-0000-0000-0001--5001", client)
    data.initialize_from_server(lastn=100)          # or start=..., end=... (inclusive)
    for item in data.data:
        print(item["timestamp"], item["value"], item["output_value"])

Derive from either and override `analyze()` to compute what you need over `self.data`
(it stays a plain method on both: the analysis does no I/O).
Each item is a dict, as seed 002's scripts index it: `timestamp` (ISO-8601 UTC), `time`
(epoch µs), `value` (as stored) and `output_value` (in the stream's output unit).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cloudlet.client.query import AsyncQuery, Query, StreamPoint, TimeLike, stream_query

if TYPE_CHECKING:
    from cloudlet.client.async_client import AsyncClient
    from cloudlet.client.sync_client import Client

__all__ = ["AsyncStreamData", "StreamData"]


def _item(point: StreamPoint) -> dict[str, Any]:
    return {"stream": point.stream, "timestamp": point.time.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
            "time": point.timestamp_us, "value": point.value,
            "output_value": point.output_value}


class _StreamPoints:
    """What both kinds share: the query they run and the `analyze()` hook."""

    data: list[dict[str, Any]]

    def _query(self, client: Any, kind: type[Query] | type[AsyncQuery], stream_id: str,
               lastn: int | None, start: TimeLike | None, end: TimeLike | None) -> Any:
        query = stream_query(client, stream_id, kind)
        if lastn is not None:
            query = query.last(lastn)
        if start is not None:
            query = query.start(start)
        if end is not None:
            query = query.end(end)
        return query

    def analyze(self) -> dict[str, Any]:
        """Override to analyse `self.data`. This one sums it up: count, mean, min and max of
        the values (None when there are no points)."""
        values = [item["value"] for item in self.data]
        if not values:
            return {"count": 0, "mean": None, "min": None, "max": None}
        return {"count": len(values), "mean": sum(values) / len(values), "min": min(values),
                "max": max(values)}


class StreamData(_StreamPoints):
    """One stream's points, fetched by `initialize_from_server`; `analyze()` is the hook."""

    def __init__(self, stream_id: str, api: Client) -> None:
        self.stream_id = str(stream_id)
        self.api = api
        self.data = []

    def initialize_from_server(self, lastn: int | None = None, start: TimeLike | None = None,
                               end: TimeLike | None = None) -> list[dict[str, Any]]:
        """Fetch the `lastn` latest points, or those in [start, end] (either may be left
        open), oldest first, following every page; they replace `self.data`."""
        query = self._query(self.api, Query, self.stream_id, lastn, start, end)
        self.data = [_item(point) for point in query]
        return self.data


class AsyncStreamData(_StreamPoints):
    """`StreamData` on an `AsyncClient`: `await initialize_from_server(...)`; `analyze()`
    is the same hook."""

    def __init__(self, stream_id: str, api: AsyncClient) -> None:
        self.stream_id = str(stream_id)
        self.api = api
        self.data = []

    async def initialize_from_server(self, lastn: int | None = None,
                                     start: TimeLike | None = None,
                                     end: TimeLike | None = None) -> list[dict[str, Any]]:
        """As `StreamData.initialize_from_server`, awaited."""
        query = self._query(self.api, AsyncQuery, self.stream_id, lastn, start, end)
        self.data = [_item(point) async for point in query]
        return self.data
