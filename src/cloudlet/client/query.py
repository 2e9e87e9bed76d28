"""The `Query` builder: `client.query(project).device("roof-01").series("temp").last(10)`.

A query is immutable: every chained call returns a new one, so a base query can be shared
and narrowed. Nothing is sent until the results are asked for — `all()`, iteration (JSON
pages, following the server's keyset `next` links lazily), `ndjson()` (one streamed
answer), `count()`, `to_arrow()`, `to_pandas()` or `export()`. `AsyncQuery` is the
`AsyncClient` twin with the same builder and awaited results.

Times are datetimes (naive means UTC), ISO-8601 strings, `Timestamp`s or ints of epoch
milliseconds (seed 003's convention); they are sent as epoch microseconds, the server's
resolution, except strings, which the server parses itself.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import json
import os
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, Self

from cloudlet.client.connection import segment
from cloudlet.client.points import Timestamp
from cloudlet.client.resources import ProjectRef

if TYPE_CHECKING:
    from cloudlet.client.async_client import AsyncClient
    from cloudlet.client.sync_client import Client

__all__ = ["AGGREGATES", "FIELDS", "AsyncQuery", "Query", "StreamPoint", "TimeLike", "as_micros"]

TimeLike = datetime | str | int | Timestamp
"""A point in time: a datetime (naive is UTC), an ISO-8601 string, a `Timestamp`, or an int
of epoch milliseconds."""

AGGREGATES = ("mean", "min", "max", "sum", "count", "first", "last")
FIELDS = ("stream", "timestamp", "time", "value", "output_value", "count")
"""The columns `fields()` may name (`count` only with `every()`)."""
Aggregate = Literal["mean", "min", "max", "sum", "count", "first", "last"]
ExportFormat = Literal["csv", "ndjson", "arrow", "parquet"]
Progress = Callable[[int], None]
"""Called with the bytes received so far while an export streams."""

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
PAGE_SIZE = 100_000  # the server's maximum JSON page; fewer round trips
CHUNK = 1 << 16


@dataclass(slots=True)
class StreamPoint:
    """One point as read back: the stream's gid, its time (UTC datetime and integer epoch
    µs), the stored `value` and `output_value` (the stream's output unit applied). Rows of a
    downsampled query are buckets: `time` is the bucket start and `count` the points in it
    (None for raw points). A query narrowed with `fields()` leaves what it did not fetch
    None (`time` and `timestamp_us` come from the wire's `time`, else its `timestamp`)."""

    stream: str | None
    time: datetime | None
    timestamp_us: int | None
    value: float | None
    output_value: float | None
    count: int | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> StreamPoint:
        # the wire's types are exact: int µs, float values, int count
        micros = row.get("time")
        if micros is None and "timestamp" in row:
            micros = (datetime.fromisoformat(row["timestamp"]) - EPOCH) // timedelta(
                microseconds=1)
        return cls(row.get("stream"),
                   None if micros is None else EPOCH + timedelta(microseconds=micros),
                   micros, row.get("value"), row.get("output_value"), row.get("count"))

    @property
    def timestamp_ms(self) -> int | None:
        """Epoch milliseconds (floored), as seed 003's results give times."""
        return None if self.timestamp_us is None else self.timestamp_us // 1000


def as_micros(value: TimeLike) -> int | str:
    """A bound as the server takes it with `precision=us`: int µs, or an ISO string as is."""
    if isinstance(value, Timestamp):
        return value.micros()
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        return (aware - EPOCH) // timedelta(microseconds=1)
    if isinstance(value, bool):
        raise TypeError("A time is a datetime, an ISO-8601 string, a Timestamp or epoch ms.")
    if isinstance(value, int):
        return value * 1000
    if isinstance(value, str):
        text = value.strip()
        if text.lstrip("-").isdigit():
            return int(text) * 1000  # digits: epoch milliseconds, like an int
        if not text:
            raise ValueError("An empty string is not a time.")
        return text
    raise TypeError(f"A time is a datetime, an ISO-8601 string, a Timestamp or epoch ms, "
                    f"not {type(value).__name__}.")


def _need(module: str, extra: str, what: str) -> Any:
    try:
        return __import__(module)
    except ImportError:
        raise ImportError(f"{what} needs {module}: pip install 'cloudlet[{extra}]'") from None


@dataclass(frozen=True)
class _Spec:
    """What a query asks for; the builder methods return changed copies of it."""

    project: str | None = None
    streams: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    series: tuple[str, ...] = ()
    start: TimeLike | None = None
    end: TimeLike | None = None
    filters: tuple[tuple[str, float], ...] = ()
    every: str | None = None
    agg: str | None = None
    lastn: int | None = None
    limit: int | None = None
    page_size: int = PAGE_SIZE
    descending: bool = False
    fields: tuple[str, ...] = ()
    extra: tuple[tuple[str, Any], ...] = ()


class _QueryBuilder:
    """The chainable part, shared by `Query` and `AsyncQuery`."""

    def __init__(self, client: Any, spec: _Spec) -> None:
        self._client = client
        self._spec = spec

    def _with(self, **changes: Any) -> Self:
        return type(self)(self._client, dataclasses.replace(self._spec, **changes))

    def __repr__(self) -> str:
        try:
            where = self.path
        except ValueError:
            where = "(no project)"
        return f"<{type(self).__name__} {where} {self._spec}>"

    # -- scope ---------------------------------------------------------------------------

    def stream(self, gid: str) -> Self:
        """Add a stream (its gid) to the scope."""
        return self.streams([gid])

    def streams(self, gids: Iterable[str]) -> Self:
        return self._with(streams=(*self._spec.streams, *(str(g) for g in gids)))

    def device(self, device: str | int) -> Self:
        """Add a device (gid, key or id): all its streams, or those of `series`."""
        return self._with(devices=(*self._spec.devices, str(device)))

    def devices(self, devices: Iterable[str | int]) -> Self:
        return self._with(devices=(*self._spec.devices, *(str(d) for d in devices)))

    def series(self, name: str) -> Self:
        """Narrow to streams of this variable name (repeatable)."""
        return self._with(series=(*self._spec.series, name))

    # -- time ----------------------------------------------------------------------------

    def start(self, time: TimeLike) -> Self:
        """Points at or after `time` (inclusive)."""
        as_micros(time)
        return self._with(start=time)

    def end(self, time: TimeLike) -> Self:
        """Points at or before `time` (inclusive)."""
        as_micros(time)
        return self._with(end=time)

    def between(self, start: TimeLike, end: TimeLike) -> Self:
        return self.start(start).end(end)

    # seed 003's names
    from_time = start
    to_time = end
    in_time_range = between

    # -- values --------------------------------------------------------------------------

    def _filter(self, name: str, value: float) -> Self:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise TypeError(f"A value filter takes a number, not {type(value).__name__}.")
        kept = tuple(f for f in self._spec.filters if f[0] != name)
        return self._with(filters=(*kept, (name, value)))

    def greater_than(self, value: float) -> Self:
        """Raw values strictly above `value`."""
        return self._filter("gt", value)

    def at_least(self, value: float) -> Self:
        return self._filter("gte", value)

    def less_than(self, value: float) -> Self:
        """Raw values strictly below `value`."""
        return self._filter("lt", value)

    def at_most(self, value: float) -> Self:
        return self._filter("lte", value)

    def value_range(self, low: float, high: float, *, inclusive: bool = False) -> Self:
        """Raw values between `low` and `high`: strictly, as seed 003's `inValueRange`
        (combining greater_than and less_than), or with `inclusive=True` both ends."""
        if inclusive:
            return self.at_least(low).at_most(high)
        return self.greater_than(low).less_than(high)

    def equals(self, value: float) -> Self:
        return self._filter("eq", value)

    # -- shaping -------------------------------------------------------------------------

    def every(self, duration: str) -> Self:
        """Downsample into buckets of `duration` (`30s`, `1m`, `1h`, `1d`), aligned to the
        Unix epoch in UTC; `agg` picks the aggregate (mean unless told)."""
        if not isinstance(duration, str) or not duration.strip():
            raise ValueError("every() takes a duration such as '30s', '1m', '1h' or '1d'.")
        return self._with(every=duration.strip())

    def agg(self, name: Aggregate) -> Self:
        if name not in AGGREGATES:
            raise ValueError(f"agg must be one of {', '.join(AGGREGATES)}, not {name!r}.")
        return self._with(agg=name)

    def last(self, n: int) -> Self:
        """The `n` latest points of each stream (still returned in the query's order)."""
        return self._with(lastn=_positive(n, "last()"))

    def limit(self, n: int) -> Self:
        """At most `n` rows in all."""
        return self._with(limit=_positive(n, "limit()"))

    def page_size(self, n: int) -> Self:
        """Rows per JSON page while iterating (default and maximum 100,000)."""
        return self._with(page_size=min(_positive(n, "page_size()"), PAGE_SIZE))

    def descending(self) -> Self:
        """Newest first (the default is oldest first)."""
        return self._with(descending=True)

    def ascending(self) -> Self:
        return self._with(descending=False)

    def fields(self, *names: str) -> Self:
        """Fetch only these columns (of `FIELDS`; `count` needs `every()`): the server
        sends less and the client parses less. They come in the documented order whatever
        the order here; a `StreamPoint` has None for what was not fetched. Arrow and
        Parquet have one `time` column, for `time` and `timestamp` alike."""
        if not names:
            raise ValueError("fields() names at least one column.")
        wrong = [n for n in names if n not in FIELDS]
        if wrong:
            raise ValueError(f"fields() takes columns of {', '.join(FIELDS)}, not {wrong}.")
        return self._with(fields=tuple(dict.fromkeys(names)))

    def param(self, name: str, value: Any) -> Self:
        """Any other server parameter, for what the builder does not name."""
        return self._with(extra=(*self._spec.extra, (name, value)))

    # -- the request ---------------------------------------------------------------------

    @property
    def path(self) -> str:
        """Where the query goes: the project's points, or one stream's when no project is
        known and the scope is one stream."""
        spec = self._spec
        if spec.project is not None:
            return f"/projects/{segment(spec.project)}/points"
        if len(spec.streams) == 1 and not spec.devices and not spec.series:
            return f"/streams/{segment(spec.streams[0])}/points"
        raise ValueError("A query over anything but one stream needs a project: "
                         "client.query(project).")

    def params(self, format: str | None = None) -> dict[str, Any]:
        """The query parameters sent (without paging)."""
        spec = self._spec
        params: dict[str, Any] = {}
        if spec.project is not None and spec.streams:
            params["stream"] = list(spec.streams)
        if spec.devices:
            params["device"] = list(spec.devices)
        if spec.series:
            params["series"] = list(spec.series)
        bounds = {"start": spec.start, "end": spec.end}
        for name, value in bounds.items():
            if value is not None:
                params[name] = as_micros(value)
        if any(isinstance(v, int) for v in params.values()):
            params["precision"] = "us"
        for name, bound in spec.filters:
            params[name] = bound
        if spec.every is not None:
            params["every"] = spec.every
            params["agg"] = spec.agg or "mean"
        elif spec.agg is not None:
            raise ValueError("agg() needs every(): the bucket size to aggregate over.")
        if spec.fields:
            if "count" in spec.fields and spec.every is None:
                raise ValueError("fields('count') needs every(): only buckets have counts.")
            params["fields"] = ",".join(spec.fields)
        if spec.lastn is not None:
            params["lastn"] = spec.lastn
        if spec.descending:
            params["order"] = "desc"
        if format is not None:
            params["format"] = format
            if spec.limit is not None:
                params["limit"] = spec.limit  # a total cap for the streamed formats
        params.update(spec.extra)
        return params

    def _table_columns(self) -> list[str]:
        """The columns of `to_arrow()` / `to_pandas()`: one `time` for time and timestamp."""
        spec = self._spec
        wanted = set(spec.fields or (FIELDS if spec.every is not None else FIELDS[:-1]))
        if "timestamp" in wanted:
            wanted.add("time")
        return [n for n in ("stream", "time", "value", "output_value", "count")
                if n in wanted]

    def _first_page(self) -> dict[str, Any]:
        """Parameters of the first JSON page: no bigger than the rows still wanted."""
        size = self._spec.page_size
        if self._spec.limit is not None:
            size = min(size, self._spec.limit)
        return {**self.params(), "limit": size}


def _positive(n: int, what: str) -> int:
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"{what} takes a positive int, not {n!r}.")
    return n


def _frame_from_arrow(table: Any) -> Any:
    _need("pandas", "pandas", "to_pandas()")
    return table.to_pandas()


def _arrow_table(data: bytes) -> Any:
    _need("pyarrow", "arrow", "to_arrow()")
    import pyarrow.ipc

    with pyarrow.ipc.open_stream(io.BytesIO(data)) as reader:
        return reader.read_all()


def _frame_from_points(points: list[StreamPoint], names: list[str]) -> Any:
    """The frame `to_arrow()` would give, with the columns `names` (`_table_columns`)."""
    pd = _need("pandas", "pandas", "to_pandas()")
    make: dict[str, Callable[[], Any]] = {
        "stream": lambda: pd.array([p.stream for p in points], dtype=object),
        "time": lambda: pd.to_datetime([p.timestamp_us for p in points], unit="us",
                                       utc=True).astype("datetime64[us, UTC]"),
        "value": lambda: pd.array([p.value for p in points], dtype="float64"),
        "output_value": lambda: pd.array([p.output_value for p in points], dtype="float64"),
        "count": lambda: pd.array([p.count or 0 for p in points], dtype="int64"),
    }
    return pd.DataFrame({name: make[name]() for name in names})


class _Lines:
    """NDJSON rows from chunks of bytes. The complete lines of a chunk are parsed with one
    `json.loads` (as an array), which is much faster than a call per line."""

    def __init__(self) -> None:
        self._partial = b""

    def feed(self, chunk: bytes) -> list[Any]:
        data = self._partial + chunk
        cut = data.rfind(b"\n")
        if cut < 0:
            self._partial = data
            return []
        self._partial = data[cut + 1:]
        return _rows(data[:cut])

    def rest(self) -> list[Any]:
        rows, self._partial = _rows(self._partial), b""
        return rows


def _rows(block: bytes) -> list[Any]:
    lines = [line for line in block.split(b"\n") if line.strip()]
    return json.loads(b"[" + b",".join(lines) + b"]") if lines else []


def _has_pyarrow() -> bool:
    try:
        import pyarrow  # noqa: F401
    except ImportError:
        return False
    return True


def _writer(to: str | os.PathLike[str] | IO[bytes]) -> tuple[IO[bytes], bool]:
    if isinstance(to, str | os.PathLike):
        return Path(to).open("wb"), True
    return to, False


class Query(_QueryBuilder):
    """A query on a `Client`; see the module docstring. Iterating yields `StreamPoint`s."""

    _client: Client

    def __iter__(self) -> Iterator[StreamPoint]:
        wanted = self._spec.limit
        for row in self._client.paginate(self.path, self._first_page()):
            yield StreamPoint.from_row(row)
            if wanted is not None:
                wanted -= 1
                if wanted == 0:
                    return  # before the cursor asks for a page nobody wants

    def all(self) -> list[StreamPoint]:
        """Every matching point, following pages."""
        return list(self)

    def pages(self) -> Iterator[list[StreamPoint]]:
        """The points a JSON page at a time."""
        batch: list[StreamPoint] = []
        for point in self:
            batch.append(point)
            if len(batch) >= self._spec.page_size:
                yield batch
                batch = []
        if batch:
            yield batch

    def count(self) -> int:
        """How many points (or buckets) match, all pages together."""
        answer = self._client.get(self.path, {**self.params(), "limit": 1})
        return int(answer["count"])

    def ndjson(self) -> Iterator[StreamPoint]:
        """The points from one streamed NDJSON answer: the way to read millions of them."""
        lines = _Lines()
        for chunk in self.iter_bytes("ndjson"):
            for row in lines.feed(chunk):
                yield StreamPoint.from_row(row)
        for row in lines.rest():
            yield StreamPoint.from_row(row)

    def iter_bytes(self, format: ExportFormat = "csv") -> Iterator[bytes]:
        """The answer in a streamed format (`csv`, `ndjson`, `arrow`, `parquet`) as it
        arrives."""
        with self._client.get(self.path, self.params(format), stream=True) as answer:
            yield from answer.iter_bytes(CHUNK)

    def export(self, to: str | os.PathLike[str] | IO[bytes], format: ExportFormat = "csv",
               *, progress: Progress | None = None) -> int:
        """Stream the answer into a file (path or binary file); the bytes written. A path
        is opened only once the server has answered, so a refused query leaves no file."""
        chunks = self.iter_bytes(format)
        first = next(chunks, b"")
        out, opened = _writer(to)
        written = 0
        try:
            for chunk in itertools.chain([first], chunks):
                out.write(chunk)
                written += len(chunk)
                if progress is not None:
                    progress(written)
        finally:
            if opened:
                out.close()
        return written

    def to_arrow(self) -> Any:
        """A `pyarrow.Table` (stream, time timestamp[us, UTC], value, output_value, and count
        when downsampled), from the server's Arrow IPC stream. Needs `cloudlet[arrow]`."""
        _need("pyarrow", "arrow", "to_arrow()")
        return _arrow_table(b"".join(self.iter_bytes("arrow")))

    def to_pandas(self) -> Any:
        """A pandas DataFrame with the columns of `to_arrow()`. Needs `cloudlet[pandas]`;
        with pyarrow installed the rows come as Arrow, else as JSON pages."""
        _need("pandas", "pandas", "to_pandas()")
        if _has_pyarrow():
            return _frame_from_arrow(self.to_arrow())
        return _frame_from_points(self.all(), self._table_columns())


class AsyncQuery(_QueryBuilder):
    """A query on an `AsyncClient`: `async for point in q`, `await q.all()`, …"""

    _client: AsyncClient

    async def __aiter__(self) -> AsyncIterator[StreamPoint]:
        wanted = self._spec.limit
        async for row in self._client.paginate(self.path, self._first_page()):
            yield StreamPoint.from_row(row)
            if wanted is not None:
                wanted -= 1
                if wanted == 0:
                    return  # before the cursor asks for a page nobody wants

    async def all(self) -> list[StreamPoint]:
        return [point async for point in self]

    async def count(self) -> int:
        answer = await self._client.get(self.path, {**self.params(), "limit": 1})
        return int(answer["count"])

    async def ndjson(self) -> AsyncIterator[StreamPoint]:
        lines = _Lines()
        async for chunk in self.iter_bytes("ndjson"):
            for row in lines.feed(chunk):
                yield StreamPoint.from_row(row)
        for row in lines.rest():
            yield StreamPoint.from_row(row)

    async def iter_bytes(self, format: ExportFormat = "csv") -> AsyncIterator[bytes]:
        answer = await self._client.get(self.path, self.params(format), stream=True)
        async with answer:
            async for chunk in answer.aiter_bytes(CHUNK):
                yield chunk

    async def export(self, to: str | os.PathLike[str] | IO[bytes],
                     format: ExportFormat = "csv", *, progress: Progress | None = None
                     ) -> int:
        chunks = self.iter_bytes(format)
        chunk = await anext(chunks, b"")  # the server's answer before any file is opened
        out, opened = _writer(to)
        written = 0
        try:
            while chunk:
                out.write(chunk)
                written += len(chunk)
                if progress is not None:
                    progress(written)
                chunk = await anext(chunks, b"")
        finally:
            if opened:
                out.close()
        return written

    async def to_arrow(self) -> Any:
        _need("pyarrow", "arrow", "to_arrow()")
        return _arrow_table(b"".join([chunk async for chunk in self.iter_bytes("arrow")]))

    async def to_pandas(self) -> Any:
        _need("pandas", "pandas", "to_pandas()")
        if _has_pyarrow():
            return _frame_from_arrow(await self.to_arrow())
        return _frame_from_points(await self.all(), self._table_columns())


def new_query(client: Any, project: ProjectRef | None, kind: type[_QueryBuilder]) -> Any:
    scope = project if project is not None else client.connection.project
    return kind(client, _Spec(project=None if scope is None else str(scope)))


def stream_query(client: Any, gid: str, kind: type[_QueryBuilder] = Query) -> Any:
    """One stream's query on its own path, whatever project the client defaults to (a
    `Query`, or an `AsyncQuery` for an async client)."""
    return kind(client, _Spec()).stream(gid)
