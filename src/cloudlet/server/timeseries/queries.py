"""The query service: points of one stream or many, filtered, downsampled, paged or streamed.

A `Query` names its streams (gids, or a project with an optional device and series name),
a time range (µs, both ends inclusive), value filters on the stored value, and either raw
points or buckets (`every` µs, aligned to the Unix epoch in UTC, aggregated with `agg`).

Rows are ordered by the key (timestamp, stream id); `descending` reverses it. The result set
is: the matching rows; with `lastn`, only the newest n of each stream; then, in the
requested order, only the first `limit`. Both cuts become key bounds (a time floor per
stream for `lastn`, a key range for `limit`), so paging and streaming read only
the chunks that overlap the range (`PointStore.iter_points`, head overwrites resolved) and
hold at most a chunk per stream plus a page in memory. `output_value` applies the stream's
effective output MDO (`value * m / d + o`); for buckets, to the aggregate (a count stays a
count, a sum adds the offset once per point, and a negative factor swaps min and max).

- `page(principal, query, page_size=, cursor=)` answers `count` (the total, computed on the
  first page and carried in the cursors; for raw points without value filters it comes
  from the chunks' point counts, decoding only the chunks the range cuts) and keyset
  `next` / `previous` cursors.
- `blocks(principal, query)` yields numpy column blocks for streaming exports.
"""

from __future__ import annotations

import base64
import hashlib
import heapq
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import orjson
from sqlalchemy import Connection

from cloudlet.server.core.db import Database
from cloudlet.server.core.errors import Invalid, NotFound
from cloudlet.server.core.principal import Level, Principal
from cloudlet.server.timeseries import units
from cloudlet.server.timeseries.codec import F64, I64
from cloudlet.server.timeseries.store import PointStore
from cloudlet.server.timeseries.streams import StreamService

AGGREGATES = ("mean", "min", "max", "sum", "count", "first", "last")
MIN_KEY = (-(2**63), -1)
MAX_KEY = (2**63 - 1, 2**31)
BLOCK_POINTS = 65_536  # rows per streamed block
MAX_STREAMS = 10_000  # streams one query may span

Key = tuple[int, int]  # (timestamp µs, stream id)


@dataclass(frozen=True)
class Query:
    """What to read. Scope: `streams` (gids), or `project` narrowed to `devices` (gids,
    keys or ids) and `series` (names or variable gids); both forms combine (the streams
    must then be in the project and match). Times in µs, both inclusive; `lastn` counts
    per stream. `by_stream` answers each stream's rows whole, streams in id order, instead
    of merging them by time (one query for exports that group by series); `limit` then
    counts in that order, and it has no pages."""

    project: str | None = None
    streams: tuple[str, ...] = ()
    devices: tuple[str, ...] = ()
    series: tuple[str, ...] = ()
    start: int | None = None
    end: int | None = None
    lastn: int | None = None
    limit: int | None = None
    descending: bool = False
    gt: float | None = None
    gte: float | None = None
    lt: float | None = None
    lte: float | None = None
    eq: float | None = None
    every: int | None = None
    agg: str = "mean"
    by_stream: bool = False  # streamed results: stream by stream (by id), not merged by time

    def __post_init__(self) -> None:
        if not self.streams and self.project is None:
            raise Invalid("A query names streams, or a project (optionally a device and a "
                          "series).")
        if len(self.streams) > MAX_STREAMS:
            raise Invalid(f"A query spans at most {MAX_STREAMS} streams.")
        for name in ("lastn", "limit"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise Invalid(f"{name} must be at least 1.")
        if self.every is not None and self.every < 1:
            raise Invalid("every must be a positive duration.")
        if self.agg not in AGGREGATES:
            raise Invalid(f"agg must be one of {', '.join(AGGREGATES)}, not {self.agg!r}.")
        for name in ("gt", "gte", "lt", "lte", "eq"):
            value = getattr(self, name)
            if value is not None and not np.isfinite(value):
                raise Invalid(f"{name} must be a finite number.")
        if self.start is not None and self.end is not None and self.start > self.end:
            raise Invalid("start is after end.")

    @property
    def filtered(self) -> bool:
        return any(getattr(self, n) is not None for n in ("gt", "gte", "lt", "lte", "eq"))

    def mask(self, values: F64) -> Any:
        """Which values pass the value filters (None: all)."""
        keep = None
        for name, test in (("gt", np.greater), ("gte", np.greater_equal), ("lt", np.less),
                           ("lte", np.less_equal), ("eq", np.equal)):
            bound = getattr(self, name)
            if bound is not None:
                hit = test(values, bound)
                keep = hit if keep is None else keep & hit
        return keep


@dataclass
class Block:
    """Rows of one piece of a result: `stream` indexes `QueryResult.streams`; downsampled
    rows carry the `count` of points in each bucket."""

    stream: Any  # int32 indices into the result's streams
    ts: I64
    value: F64
    output_value: F64
    count: I64 | None = None

    def __len__(self) -> int:
        return len(self.ts)

    def part(self, which: Any) -> Block:
        """The rows a slice or an index array picks."""
        return Block(self.stream[which], self.ts[which], self.value[which],
                     self.output_value[which], None if self.count is None else
                     self.count[which])


@dataclass
class QueryResult:
    """The streams a query resolved to (presented, with `output_unit`), and its blocks."""

    streams: list[dict[str, Any]]
    blocks: Iterator[Block]
    downsampled: bool


@dataclass
class Page:
    count: int
    streams: list[dict[str, Any]]
    block: Block
    next: str | None
    previous: str | None
    downsampled: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)

    def as_rows(self) -> list[dict[str, Any]]:
        """The page as `{stream, timestamp, value, output_value}` dicts (small pages)."""
        gids = [s["gid"] for s in self.streams]
        return [{"stream": gids[i], "timestamp": t, "value": v, "output_value": o}
                for i, t, v, o in zip(self.block.stream.tolist(), self.block.ts.tolist(),
                                      self.block.value.tolist(),
                                      self.block.output_value.tolist(), strict=True)]


def _empty() -> tuple[I64, F64]:
    return np.empty(0, np.int64), np.empty(0, np.float64)


class QueryService:
    def __init__(self, db: Database, streams: StreamService, store: PointStore) -> None:
        self.db = db
        self.streams = streams
        self.store = store

    # --- public --------------------------------------------------------------------------

    def resolve(self, principal: Principal, query: Query) -> list[dict[str, Any]]:
        """The streams in the query's scope the caller may read (404 on a named one it
        can't), ordered by id."""
        with self.db.read() as conn:
            return self._resolve(conn, principal, query)

    def page(self, principal: Principal, query: Query, *, page_size: int,
             cursor: str | None = None) -> Page:
        """One page of the result, from the start (or the end, for `previous` cursors)."""
        if page_size < 1:
            raise Invalid("page_size must be at least 1.")
        if query.by_stream:
            raise Invalid("Pages are merged by time; by_stream is for streamed results.")
        state = _Cursor.parse(cursor, query) if cursor else None
        with self.db.read() as conn:
            found = self._resolve(conn, principal, query)
            reader = _Reader(self.store, conn, query, found)
            lo, hi = reader.bounds()
            count = state.count if state else reader.count(lo, hi)
            forward = not query.descending  # asc key order is the output order
            if state is None:
                after, before = (None, None)
            else:
                after, before = (state.key, None) if state.forward else (None, state.key)
            if forward:
                want_small = state is None or state.forward
            else:
                want_small = state is not None and not state.forward
            rlo, rhi = lo, hi
            if after is not None:  # rows after the cursor in output order
                if forward:
                    rlo = max(lo, _succ(after))
                else:
                    rhi = min(hi, _pred(after))
            if before is not None:
                if forward:
                    rhi = min(hi, _pred(before))
                else:
                    rlo = max(lo, _succ(before))
            block = reader.take(rlo, rhi, page_size + 1, smallest=want_small)
            more = len(block) > page_size
            if more:
                block = _slice(block, slice(0, page_size) if want_small
                               else slice(1, None))
            if not forward:
                block = _slice(block, slice(None, None, -1))
            next_cursor = prev_cursor = None
            if len(block):
                first, last = _key(reader, block, 0), _key(reader, block, -1)
                went_forward = state is None or state.forward
                if more or not went_forward:
                    next_cursor = _Cursor(last, True, count).dump(query)
                if state is not None and (more or went_forward):
                    prev_cursor = _Cursor(first, False, count).dump(query)
            elif state is not None:
                # walked off an end: offer the way back
                back = state.key
                prev_cursor = (_Cursor(back, False, count).dump(query) if state.forward
                               else None)
                next_cursor = (None if state.forward
                               else _Cursor(back, True, count).dump(query))
            return Page(count, found, block, next_cursor, prev_cursor,
                        downsampled=query.every is not None)

    def blocks(self, principal: Principal, query: Query) -> QueryResult:
        """The whole result as blocks in output order, read lazily inside one read
        transaction (consume or close the iterator). Bounded memory for raw points; a
        downsampled result holds its buckets."""
        with self.db.read() as conn:
            found = self._resolve(conn, principal, query)

        def run() -> Iterator[Block]:
            with self.db.read() as conn:
                reader = _Reader(self.store, conn, query, found)
                lo, hi = reader.bounds(cut=False)
                left = query.limit
                for block in reader.stream(lo, hi):
                    if left is not None and len(block) >= left:
                        yield _slice(block, slice(0, left))
                        return
                    if left is not None:
                        left -= len(block)
                    yield block

        return QueryResult(found, run(), query.every is not None)

    def to_arrays(self, principal: Principal, query: Query) -> tuple[list[dict[str, Any]],
                                                                      Block]:
        """The whole result in memory (tests, reports, small results)."""
        result = self.blocks(principal, query)
        return result.streams, _concat(list(result.blocks))

    # --- scope ---------------------------------------------------------------------------

    def _resolve(self, conn: Connection, principal: Principal, query: Query
                 ) -> list[dict[str, Any]]:
        scoped: dict[int, dict[str, Any]] | None = None
        if query.project is not None:
            project = self.streams.projects.authorize(conn, principal, query.project,
                                                      Level.READ)
            scoped = {s["id"]: s for s in self.streams.in_scope(
                conn, principal, str(project["id"]), devices=query.devices,
                series=query.series)}
            if not query.streams:
                return list(scoped.values())
        elif query.devices or query.series:
            raise Invalid("Narrowing streams by device or series needs their project.")
        found: dict[int, dict[str, Any]] = {}
        for ref in query.streams:
            stream = self.streams.locate(conn, principal, ref, Level.READ)
            if scoped is not None and stream["project_id"] != project["id"]:
                raise NotFound(f"No stream {ref!r} in this project.")
            found[stream["id"]] = stream
        return [found[k] for k in sorted(found) if scoped is None or k in scoped]


# --- reading -----------------------------------------------------------------------------

def _succ(key: Key) -> Key:
    return (key[0], key[1] + 1)


def _pred(key: Key) -> Key:
    return (key[0], key[1] - 1)


def _slice(block: Block, part: slice) -> Block:
    return block.part(part)


def _split(block: Block) -> Iterator[Block]:
    """A block in pieces of at most BLOCK_POINTS rows (what the encoders take at once)."""
    for start in range(0, len(block), BLOCK_POINTS):
        yield _slice(block, slice(start, start + BLOCK_POINTS))


def _concat(blocks: list[Block]) -> Block:
    if not blocks:
        return Block(np.empty(0, np.int32), *_empty(), np.empty(0, np.float64))
    if len(blocks) == 1:
        return blocks[0]
    counts = [b.count for b in blocks]
    return Block(np.concatenate([b.stream for b in blocks]),
                 np.concatenate([b.ts for b in blocks]),
                 np.concatenate([b.value for b in blocks]),
                 np.concatenate([b.output_value for b in blocks]),
                 None if any(c is None for c in counts) else np.concatenate(counts))


def _key(reader: _Reader, block: Block, i: int) -> Key:
    return (int(block.ts[i]), reader.ids[int(block.stream[i])])


class _Reader:
    """One query over resolved streams, inside one read connection."""

    def __init__(self, store: PointStore, conn: Connection, query: Query,
                 found: list[dict[str, Any]]) -> None:
        self.store = store
        self.conn = conn
        self.query = query
        self.ids = [s["id"] for s in found]
        self.units = [s["output_unit"] for s in found]
        self.floor: list[int | None] = [None] * len(found)  # per-stream lastn cut
        self._buckets: dict[int, tuple[I64, F64, F64, I64]] = {}

    # per-stream sources: (ts, value) pieces within a key range, ascending or descending

    def _time_range(self, index: int, lo: Key, hi: Key) -> tuple[int, int] | None:
        sid = self.ids[index]
        t_lo = lo[0] if sid >= lo[1] else lo[0] + 1
        t_hi = hi[0] if sid <= hi[1] else hi[0] - 1
        q = self.query
        if q.start is not None:  # a bucket is in when it holds points from start on
            t_lo = max(t_lo, q.start if q.every is None else q.start // q.every * q.every)
        if q.end is not None:
            t_hi = min(t_hi, q.end)
        floor = self.floor[index]
        if floor is not None:
            t_lo = max(t_lo, floor)
        return None if t_lo > t_hi else (t_lo, t_hi)

    def pieces(self, index: int, lo: Key, hi: Key, ascending: bool = True
               ) -> Iterator[Block]:
        """The stream's rows in [lo, hi] as blocks, in ascending or descending order."""
        span = self._time_range(index, lo, hi)
        if span is None:
            return
        if self.query.every is not None:
            ts, values, out, counts = self.buckets(index)
            a, b = np.searchsorted(ts, span[0], "left"), np.searchsorted(ts, span[1], "right")
            if b > a:
                block = self._block(index, ts[a:b], values[a:b], out[a:b], counts[a:b])
                yield block if ascending else _slice(block, slice(None, None, -1))
            return
        source = (self._raw(index, *span) if ascending
                  else self._raw_backward(index, *span))
        for ts, values in source:
            keep = self.query.mask(values)
            if keep is not None:
                ts, values = ts[keep], values[keep]
            if len(ts):
                block = self._block(index, ts, values, units.apply(values, self.units[index]))
                yield block if ascending else _slice(block, slice(None, None, -1))

    def _raw(self, index: int, t_lo: int, t_hi: int) -> Iterator[tuple[I64, F64]]:
        yield from self.store.iter_points(self.conn, self.ids[index], t_lo, t_hi)

    def _raw_backward(self, index: int, t_lo: int, t_hi: int) -> Iterator[tuple[I64, F64]]:
        """Ascending pieces, newest window first: windows of about BLOCK_POINTS stored
        points walked back from t_hi."""
        top = t_hi
        while top >= t_lo:
            bottom = self.store.start_for(self.conn, self.ids[index], top, BLOCK_POINTS)
            bottom = t_lo if bottom is None else max(t_lo, bottom)
            parts = list(self._raw(index, bottom, top))
            yield from reversed(parts)
            if bottom <= t_lo:
                return
            top = bottom - 1

    def buckets(self, index: int) -> tuple[I64, F64, F64, I64]:
        """The stream's buckets over the query's range (filters applied before): starts,
        aggregates, their output values and point counts."""
        got = self._buckets.get(index)
        if got is None:
            got = _aggregate(self._filtered_raw(index), self.query.every or 1,
                             self.query.agg, self.units[index])
            self._buckets[index] = got
        return got

    def _filtered_raw(self, index: int) -> Iterator[tuple[I64, F64]]:
        q = self.query
        for ts, values in self._raw(index, MIN_KEY[0] if q.start is None else q.start,
                                    MAX_KEY[0] if q.end is None else q.end):
            keep = q.mask(values)
            yield (ts[keep], values[keep]) if keep is not None else (ts, values)

    # key bounds of the result set (lastn, then limit in output order)

    def bounds(self, cut: bool = True) -> tuple[Key, Key]:
        """Sets each stream's lastn floor; the key range `limit` leaves (with `cut`:
        streaming stops after `limit` rows instead, without holding them)."""
        lo, hi = MIN_KEY, MAX_KEY
        q = self.query
        if q.lastn is not None:
            for i in range(len(self.ids)):
                self.floor[i] = self._nth_newest(i, q.lastn)
        if q.limit is not None and cut:
            block = self.take(lo, hi, q.limit, smallest=not q.descending)
            if len(block) == q.limit:
                if q.descending:
                    lo = _key(self, block, 0)
                else:
                    hi = _key(self, block, -1)
        return lo, hi

    def _nth_newest(self, index: int, n: int) -> int | None:
        """The time of the stream's n-th newest row (None: it has fewer), reading back a
        piece at a time."""
        have = 0
        for piece in self.pieces(index, MIN_KEY, MAX_KEY, ascending=False):
            if have + len(piece) >= n:
                return int(piece.ts[n - have - 1])
            have += len(piece)
        return None

    def count(self, lo: Key, hi: Key) -> int:
        """Rows in [lo, hi]: raw points without value filters are counted from the chunks'
        point counts (`PointStore.count_points`), everything else by reading."""
        total = 0
        for i in range(len(self.ids)):
            known = None
            if self.query.every is None and not self.query.filtered:
                span = self._time_range(i, lo, hi)
                if span is None:
                    continue
                known = self.store.count_points(self.conn, self.ids[i], *span)
            total += known if known is not None else sum(
                len(b) for b in self.pieces(i, lo, hi))
        return total

    def take(self, lo: Key, hi: Key, n: int, *, smallest: bool) -> Block:
        """The n smallest (or largest) rows by key in [lo, hi], ascending. Once n rows are
        in hand, the later streams are read only up to (or down to) the n-th time so far."""
        parts: list[Block] = []
        times: list[I64] = []
        have = 0
        for i in range(len(self.ids)):
            got = self._take_one(i, lo, hi, n, smallest=smallest)
            if not len(got):
                continue
            parts.append(got)
            times.append(got.ts)
            have += len(got)
            if have >= n and i + 1 < len(self.ids):
                every = np.concatenate(times)
                if smallest:
                    hi = min(hi, (int(np.partition(every, n - 1)[n - 1]), MAX_KEY[1]))
                else:
                    lo = max(lo, (int(np.partition(every, have - n)[have - n]), MIN_KEY[1]))
                times = [every]
        block = _concat(parts)
        if len(parts) > 1:
            order = np.lexsort((np.asarray(self.ids)[block.stream], block.ts))
            block = block.part(order[:n] if smallest else order[-n:])
        return block

    def _take_one(self, index: int, lo: Key, hi: Key, n: int, *, smallest: bool) -> Block:
        """The n smallest (or largest) rows of one stream in [lo, hi], ascending."""
        got: list[Block] = []
        have = 0
        for piece in self.pieces(index, lo, hi, ascending=smallest):
            got.append(piece)
            have += len(piece)
            if have >= n:
                break
        block = _slice(_concat(got), slice(0, n))
        return block if smallest else _slice(block, slice(None, None, -1))

    def stream(self, lo: Key, hi: Key) -> Iterator[Block]:
        """Every row in [lo, hi] in output order, as blocks: a k-way merge of the streams'
        pieces, emitting what no stream can still precede (with `by_stream`, one stream's
        pieces after another's)."""
        ascending = not self.query.descending
        sources = [self.pieces(i, lo, hi, ascending=ascending) for i in range(len(self.ids))]
        if self.query.by_stream:
            for source in sources:
                for block in source:
                    yield from _split(block)
            return
        if len(sources) == 1:
            for block in sources[0]:
                yield from _split(block)
            return
        sign = 1 if ascending else -1
        pending: list[Block] = []
        heap: list[tuple[int, int]] = []  # (sign * piece end ts, stream index)
        current: dict[int, Block] = {}

        def advance(i: int) -> None:
            piece = next(sources[i], None)
            if piece is not None:
                current[i] = piece
                heapq.heappush(heap, (sign * int(piece.ts[-1]), i))

        for i in range(len(sources)):
            advance(i)
        while heap:
            edge, i = heapq.heappop(heap)
            limit = sign * edge
            # everything up to `limit` in every current piece can go out now
            out: list[Block] = []
            for j in list(current):
                block = current[j]
                if ascending:
                    cut = int(np.searchsorted(block.ts, limit, "right"))
                else:
                    cut = int(np.searchsorted(-block.ts, -limit, "right"))
                if cut:
                    out.append(_slice(block, slice(0, cut)))
                    current[j] = _slice(block, slice(cut, None))
            del current[i]
            advance(i)
            pending.extend(out)
            if sum(len(b) for b in pending) >= BLOCK_POINTS or not heap:
                yield from _split(self._merge(pending, ascending))
                pending = []
        if pending:
            yield from _split(self._merge(pending, ascending))

    def _merge(self, blocks: list[Block], ascending: bool) -> Block:
        block = _concat(blocks)
        order = np.lexsort((np.asarray(self.ids)[block.stream], block.ts))
        return block.part(order if ascending else order[::-1])

    def _block(self, index: int, ts: I64, values: F64, out: F64, counts: I64 | None = None
               ) -> Block:
        return Block(np.full(len(ts), index, np.int32), ts, values, out, counts)


def _aggregate(pieces: Iterator[tuple[I64, F64]], every: int, agg: str,
               unit: dict[str, Any]) -> tuple[I64, F64, F64, I64]:
    """Bucket starts (floor(ts / every) * every, so aligned to the epoch), aggregates and
    their output values, combining buckets split between pieces. The MDO is affine: a
    count stays a count, a sum adds the offset once per point, and a negative factor turns
    a minimum into the output's maximum (so min/max take the other end)."""
    starts: list[I64] = []
    parts: dict[str, list[F64]] = {k: [] for k in ("count", "sum", "min", "max", "first",
                                                    "last")}
    for ts, values in pieces:
        if not len(ts):
            continue
        bucket = (ts // every) * every
        edges = np.flatnonzero(np.diff(bucket)) + 1
        begin = np.concatenate(([0], edges))
        starts.append(bucket[begin])
        parts["count"].append(np.diff(np.concatenate((begin, [len(ts)]))).astype(np.float64))
        parts["sum"].append(np.add.reduceat(values, begin))
        parts["min"].append(np.minimum.reduceat(values, begin))
        parts["max"].append(np.maximum.reduceat(values, begin))
        parts["first"].append(values[begin])
        parts["last"].append(values[np.concatenate((edges - 1, [len(ts) - 1]))])
    if not starts:
        return (*_empty(), np.empty(0, np.float64), np.empty(0, np.int64))
    b = np.concatenate(starts)
    cols = {k: np.concatenate(v) for k, v in parts.items()}
    if len(b) > 1 and np.any(b[1:] == b[:-1]):  # buckets split between pieces: combine
        edges = np.flatnonzero(np.diff(b)) + 1
        begin = np.concatenate(([0], edges))
        ends = np.concatenate((edges - 1, [len(b) - 1]))
        cols = {"count": np.add.reduceat(cols["count"], begin),
                "sum": np.add.reduceat(cols["sum"], begin),
                "min": np.minimum.reduceat(cols["min"], begin),
                "max": np.maximum.reduceat(cols["max"], begin),
                "first": cols["first"][begin], "last": cols["last"][ends]}
        b = b[begin]
    value = cols["sum"] / cols["count"] if agg == "mean" else cols[agg]
    scale = unit["m"] / unit["d"]
    if agg == "count":
        out = value.copy()
    elif agg == "sum":
        out = value * scale + cols["count"] * unit["o"]
    elif agg in ("min", "max") and scale < 0:
        out = cols["max" if agg == "min" else "min"] * scale + unit["o"]
    else:
        out = value * scale + unit["o"]
    return b, value, out, cols["count"].astype(np.int64)


class _Cursor:
    """A keyset position: the key of a page's edge row, the direction to go from it, and the
    total counted on the first page; tied to the query it was made for."""

    def __init__(self, key: Key, forward: bool, count: int) -> None:
        self.key, self.forward, self.count = key, forward, count

    def dump(self, query: Query) -> str:
        raw = orjson.dumps([self.key[0], self.key[1], int(self.forward), self.count,
                            _fingerprint(query)])
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def parse(cls, text: str, query: Query) -> _Cursor:
        try:
            raw = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
            ts, sid, forward, count, print_ = raw
            assert all(isinstance(x, int) for x in (ts, sid, forward, count, print_))
        except Exception:
            raise Invalid("This cursor is not one the query API gave out.") from None
        if print_ != _fingerprint(query):
            raise Invalid("This cursor belongs to another query; start again without it.")
        return cls((ts, sid), bool(forward), count)


def _fingerprint(query: Query) -> int:
    text = orjson.dumps(asdict(query), option=orjson.OPT_SORT_KEYS)
    return int.from_bytes(hashlib.blake2b(text, digest_size=6).digest(), "big")
