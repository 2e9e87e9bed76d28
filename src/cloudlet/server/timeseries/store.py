"""The chunked point store: writing points into a transaction, reading a range, compacting.

Per stream, chunks are disjoint and time-ordered; the head table holds points that could not
go into a chunk without overlapping one (out-of-order points, overwrites). Invariant: a head
point is newer than any chunk point with the same timestamp, so reads let the head win.

- `write` puts each stream's points (sorted, deduplicated, last wins) into new chunks when
  they lie after everything stored (the usual case: one row per stream per batch) or in a
  free gap (between two stored chunks); points inside a small chunk's span rewrite that
  chunk, and the rest (on a head point, or inside a big chunk) are upserted into the head.
- `read` / `iter_points` touch only the chunks that overlap the range, decode them with
  numpy, and let head points win. This is the read path the query API builds on.
- `compact` folds a stream's head into its chunks and merges runs of small chunks.

Rows are written with the driver directly: multi-row statements on SQLite, binary COPY on
PostgreSQL.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import Connection

from cloudlet.server.core.db import Tx
from cloudlet.server.timeseries import codec
from cloudlet.server.timeseries.codec import F64, I64

CHUNK_POINTS = 10_000  # the compactor's target, and the largest chunk a write makes
# a chunk below this is worth merging with its neighbours, and cheap enough to rewrite when
# out-of-order points fall inside it
SMALL_CHUNK = CHUNK_POINTS // 4
# chunks are fetched a few at a time (a server-side cursor on PostgreSQL), so a long read
# holds a few blobs, not the whole result
_STREAMED = {"stream_results": True, "max_row_buffer": 8}
_CURSOR_NAMES = itertools.count()  # server-side cursors need names unique per connection


def _overlaps(c: str, sid: str, lo: str, hi: str) -> str:
    """SQL: chunk `c` of stream `sid` overlaps [lo, hi]. A stream's chunk spans are disjoint,
    so those are the last chunk starting at or before lo and the ones starting in (lo, hi]:
    one range of the (stream, t_min) index, never a walk from the stream's first chunk."""
    return (f"{c}.stream_id = {sid} AND {c}.t_min <= {hi} AND {c}.t_max >= {lo} AND "
            f"{c}.t_min >= COALESCE((SELECT max(e.t_min) FROM point_chunks e WHERE "
            f"e.stream_id = {sid} AND e.t_min <= {lo}), {lo})")


_RANGE = "CAST(? AS INTEGER), CAST(? AS BIGINT), CAST(? AS BIGINT)"


def _marks(n: int) -> str:
    return ", ".join(["?"] * n)


def _in_range(columns: str) -> str:
    """SELECT `columns` of the chunks overlapping one range, in time order (the index's:
    no sort, so blobs stream); its parameters are `_range_args`."""
    return (f"SELECT {columns} FROM point_chunks c WHERE {_overlaps('c', '?', '?', '?')} "
            "ORDER BY c.t_min, c.id")


def _range_args(stream_id: int, lo: int, hi: int) -> tuple[int, ...]:
    return stream_id, hi, lo, stream_id, lo, lo


@dataclass
class Written:
    stream_id: int
    count: int
    first: int
    last: int
    to_head: int
    newest: int = 0  # the stream's newest stored timestamp after the write


@dataclass
class _Held:
    """What a stream already holds within a range: its chunks (spans sorted and disjoint)
    and its head timestamps."""

    ids: list[int]
    t_min: I64
    t_max: I64
    n: I64
    head: I64

    @classmethod
    def of(cls, chunks: list[tuple[int, int, int, int]], head: list[int]) -> _Held:
        chunks.sort(key=lambda c: c[1])
        return cls([c[0] for c in chunks], np.array([c[1] for c in chunks], np.int64),
                   np.array([c[2] for c in chunks], np.int64),
                   np.array([c[3] for c in chunks], np.int64), np.array(head, np.int64))


@dataclass
class _Placed:
    """Where one stream's older points go: new chunks in the gaps between stored chunks,
    small stored chunks to rewrite with them merged in, and the head — for points on a head
    point (the head wins there) or inside a big chunk (too dear to rewrite for a few)."""

    gaps: list[tuple[I64, F64]]
    into: dict[int, tuple[I64, F64]]
    head: tuple[I64, F64]


def _place(ts: I64, values: F64, held: _Held | None, small_chunk: int) -> _Placed:
    if held is None:
        return _Placed([(ts, values)], {}, (ts[:0], values[:0]))
    on_head = np.isin(ts, held.head) if len(held.head) else np.zeros(len(ts), bool)
    after = np.searchsorted(held.t_min, ts, side="right")  # chunks starting at or before
    chunk = np.maximum(after - 1, 0)
    if len(held.t_min):
        inside = (after > 0) & (ts <= held.t_max[chunk]) & ~on_head
        small = inside & (held.n[chunk] < small_chunk)
    else:  # head points only in range (left outside every chunk by older versions)
        inside = small = np.zeros(len(ts), bool)
    to_head = on_head | (inside & ~small)
    free = ~(on_head | inside)
    gaps = []
    if free.any():
        free_ts, free_values, gap = ts[free], values[free], after[free]
        cuts = (np.flatnonzero(np.diff(gap)) + 1).tolist()
        gaps = [(free_ts[s:e], free_values[s:e])
                for s, e in zip([0, *cuts], [*cuts, len(free_ts)], strict=True)]
    into = {}
    for c in np.unique(chunk[small]).tolist() if small.any() else []:
        pick = small & (chunk == c)
        into[held.ids[c]] = (ts[pick], values[pick])
    return _Placed(gaps, into, (ts[to_head], values[to_head]))


@dataclass
class StreamPoints:
    stream_id: int
    ts: I64
    values: F64


class PointStore:
    def __init__(self, *, is_postgres: bool, compress: bool = True,
                 small_chunk: int = SMALL_CHUNK) -> None:
        self.is_postgres = is_postgres
        self.compress = compress
        self.small_chunk = small_chunk  # tests lower it to meet big chunks with few points

    # --- writing -------------------------------------------------------------------------

    def write(self, tx: Tx, items: list[StreamPoints],
              known: dict[int, int | None] | None = None) -> list[Written]:
        """Store points of several streams; each item's ts must be sorted and unique, and
        the items of one stream disjoint and in time order.

        `known` holds the newest stored timestamp of the streams a caller keeps track of
        (SQLite's single writer, which saw every write); the other streams' are read — and
        their rows locked, on PostgreSQL, where several processes write."""
        items = [i for i in items if len(i.ts)]
        if not items:
            return []
        raw = tx.conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        try:
            known = known or {}
            ask = [i.stream_id for i in items if i.stream_id not in known]
            last = self._last_ts(cur, ask) if ask else {}
            last.update((i.stream_id, known[i.stream_id]) for i in items
                        if i.stream_id in known)
            stored = dict(last)  # `last` follows the items as they are placed
            chunks: list[tuple[int, int, int, int, bytes]] = []
            head: list[tuple[int, int, float]] = []
            written: list[Written] = []
            cuts, befores = [], []
            for item in items:  # how many points of each lie at or before what is stored
                newest = last.get(item.stream_id)
                befores.append(newest)
                cuts.append(0 if newest is None or item.ts[0] > newest else
                            int(np.searchsorted(item.ts, newest, side="right")))
                if newest is None or item.ts[-1] > newest:
                    last[item.stream_id] = int(item.ts[-1])
            held = self._held(cur, [
                (item.stream_id, int(item.ts[0]), int(item.ts[cut - 1]))
                for item, cut in zip(items, cuts, strict=True) if cut])
            rewrites: dict[int, tuple[int, I64, F64]] = {}
            for item, cut, newest in zip(items, cuts, befores, strict=True):
                ts, values = item.ts, item.values
                to_head = 0
                if cut:  # the older part: into gaps, small chunks, or the head
                    placed = _place(ts[:cut], values[:cut], held.get(item.stream_id),
                                    self.small_chunk)
                    for gap_ts, gap_values in placed.gaps:
                        self._chunk_rows(chunks, item.stream_id, gap_ts, gap_values,
                                         compress=False)
                    for chunk_id, (into_ts, into_values) in placed.into.items():
                        if chunk_id in rewrites:  # an earlier item of the stream, before
                            _, had_ts, had_values = rewrites[chunk_id]
                            into_ts = np.concatenate([had_ts, into_ts])
                            into_values = np.concatenate([had_values, into_values])
                        rewrites[chunk_id] = (item.stream_id, into_ts, into_values)
                    to_head = len(placed.head[0])
                    head.extend(zip([item.stream_id] * to_head, placed.head[0].tolist(),
                                    placed.head[1].tolist(), strict=True))
                    ts, values = ts[cut:], values[cut:]
                self._chunk_rows(chunks, item.stream_id, ts, values, compress=False)
                top = int(item.ts[-1])
                if newest is None or top > newest:
                    newest = top
                written.append(Written(item.stream_id, len(item.ts), int(item.ts[0]), top,
                                       to_head, newest))
            if rewrites:
                self._rewrite(cur, rewrites, chunks)
            self._insert_chunks(cur, chunks)
            if head:
                self._values(cur, "INSERT INTO point_head (stream_id, ts, value)", head,
                             "ON CONFLICT (stream_id, ts) DO UPDATE SET value = excluded.value")
            updates = [(last[sid], sid) for sid in dict.fromkeys(i.stream_id for i in items)
                       if last[sid] != stored.get(sid)]
            if updates and self.is_postgres:
                cur.executemany("UPDATE streams SET last_ts = %s WHERE id = %s", updates)
            elif updates:
                self._values(cur, "WITH v (ts, id) AS (", updates,
                             ") UPDATE streams SET last_ts = v.ts FROM v WHERE streams.id = v.id")
            return written
        finally:
            cur.close()

    def _last_ts(self, cur: object, ids: list[int]) -> dict[int, int | None]:
        marks = _marks(len(ids))
        lock = " ORDER BY id FOR UPDATE" if self.is_postgres else ""
        cur.execute(self._sql(f"SELECT id, last_ts FROM streams WHERE id IN ({marks}){lock}"),  # type: ignore[attr-defined]
                    ids)
        return {row[0]: row[1] for row in cur.fetchall()}  # type: ignore[attr-defined]

    def _held(self, cur: object, ranges: list[tuple[int, int, int]]) -> dict[int, _Held]:
        """Per stream of (stream, lo, hi): its chunks and head timestamps within [lo, hi],
        one query for them all, since batches that arrive out of order (several clients)
        bring such a range for every stream they touch."""
        # by chunk id: two ranges of one stream may meet the same chunk
        chunks: dict[int, dict[int, tuple[int, int, int, int]]] = {}
        stamps: dict[int, list[int]] = {}
        for start in range(0, len(ranges), 300):
            part = ranges[start:start + 300]
            rows = ", ".join([f"({_RANGE})"] * len(part))
            cur.execute(self._sql(  # type: ignore[attr-defined]
                f"WITH q (sid, lo, hi) AS (VALUES {rows}) "
                "SELECT c.stream_id, c.id, c.t_min, c.t_max, c.n FROM q JOIN point_chunks c "
                f"ON {_overlaps('c', 'q.sid', 'q.lo', 'q.hi')} "
                "UNION ALL SELECT h.stream_id, NULL, h.ts, NULL, NULL FROM q "
                "JOIN point_head h ON h.stream_id = q.sid AND h.ts >= q.lo AND h.ts <= q.hi"),
                [x for r in part for x in r])
            for sid, chunk_id, t_min, t_max, n in cur.fetchall():  # type: ignore[attr-defined]
                if chunk_id is None:
                    stamps.setdefault(sid, []).append(t_min)
                else:
                    chunks.setdefault(sid, {})[chunk_id] = (chunk_id, t_min, t_max, n)
        return {sid: _Held.of(list(chunks.get(sid, {}).values()), stamps.get(sid, []))
                for sid in chunks.keys() | stamps.keys()}

    def _rewrite(self, cur: object, rewrites: dict[int, tuple[int, I64, F64]],
                 rows: list[tuple[int, int, int, int, bytes]]) -> None:
        """Small chunks with points merged in (theirs win): old rows deleted, new ones added
        to `rows`."""
        ids = list(rewrites)
        marks = _marks(len(ids))
        cur.execute(self._sql(f"SELECT id, data FROM point_chunks WHERE id IN ({marks})"),  # type: ignore[attr-defined]
                    ids)
        for chunk_id, data in cur.fetchall():  # type: ignore[attr-defined]
            stream_id, ts, values = rewrites[chunk_id]
            merged = codec.merge([codec.decode(data), (ts, values)])
            self._chunk_rows(rows, stream_id, *merged, compress=False)
        self._delete_chunks(cur, ids)

    def _chunk_rows(self, rows: list[tuple[int, int, int, int, bytes]], stream_id: int,
                    ts: I64, values: F64, *, compress: bool) -> None:
        if 0 < len(ts) <= CHUNK_POINTS:  # the usual case: one chunk
            rows.append((stream_id, int(ts[0]), int(ts[-1]), len(ts),
                         codec.encode(ts, values, compress=compress)))
            return
        start = 0
        for size in codec.split_sizes(len(ts), CHUNK_POINTS) if len(ts) else []:
            t, v = ts[start:start + size], values[start:start + size]
            rows.append((stream_id, int(t[0]), int(t[-1]), size,
                         codec.encode(t, v, compress=compress)))
            start += size

    def _insert_chunks(self, cur: object, rows: list[tuple[int, int, int, int, bytes]]
                       ) -> None:
        if not rows:
            return
        if not self.is_postgres:
            self._values(cur, "INSERT INTO point_chunks (stream_id, t_min, t_max, n, data)",
                         rows)
            return
        with cur.copy("COPY point_chunks (stream_id, t_min, t_max, n, data) "  # type: ignore[attr-defined]
                      "FROM STDIN (FORMAT BINARY)") as copy:
            copy.set_types(["int4", "int8", "int8", "int4", "bytea"])
            for row in rows:
                copy.write_row(row)

    def _values(self, cur: object, head: str, rows: Sequence[tuple[Any, ...]],
                tail: str = "") -> None:
        """`head VALUES (…), (…) tail` for all the rows. On SQLite a statement per few
        thousand rows, not `executemany`'s step per row: each step lets go of the GIL and
        waits to take it back while the server's other threads run (100 rows took 490 ms
        beside a busy thread that way, 24 ms in one statement)."""
        if self.is_postgres:
            cur.executemany(self._sql(  # type: ignore[attr-defined]
                f"{head} VALUES ({_marks(len(rows[0]))}) {tail}"), rows)
            return
        row = f"({_marks(len(rows[0]))})"
        step = 30_000 // len(rows[0])  # SQLite allows 32,766 parameters a statement
        for start in range(0, len(rows), step):
            part = rows[start:start + step]
            cur.execute(f"{head} VALUES {', '.join([row] * len(part))} {tail}",  # type: ignore[attr-defined]
                        [x for r in part for x in r])

    def _delete_chunks(self, cur: object, ids: list[int]) -> None:
        for start in range(0, len(ids), 30_000):
            part = ids[start:start + 30_000]
            cur.execute(self._sql(  # type: ignore[attr-defined]
                f"DELETE FROM point_chunks WHERE id IN ({_marks(len(part))})"), part)

    def _sql(self, text: str) -> str:
        return text.replace("?", "%s") if self.is_postgres else text

    # --- reading -------------------------------------------------------------------------

    def read(self, conn: Connection, stream_id: int, start: int | None = None,
             end: int | None = None) -> tuple[I64, F64]:
        """Every point of a stream in [start, end] (both inclusive), sorted by time."""
        parts = list(self.iter_points(conn, stream_id, start, end))
        return codec.merge(parts) if len(parts) != 1 else parts[0]

    def iter_points(self, conn: Connection, stream_id: int, start: int | None = None,
                    end: int | None = None) -> Iterator[tuple[I64, F64]]:
        """The points of [start, end] as consecutive, time-ordered, non-overlapping pieces
        (about one chunk each), newest value winning: memory stays bounded by a chunk plus
        the head's points in the range."""
        lo = -(2**63) if start is None else start
        hi = 2**63 - 1 if end is None else end
        head_ts, head_values = self._head(conn, stream_id, lo, hi)
        rows = self._chunks_in(conn, stream_id, lo, hi)
        pending: tuple[I64, F64] | None = None  # the previous chunk, waiting for its head
        prev_max = None
        overlapping: list[tuple[I64, F64]] = []
        hpos = 0
        for t_min, t_max, data in rows:
            ts, values = codec.decode(data)
            if lo > t_min or hi < t_max:
                keep = (ts >= lo) & (ts <= hi)
                ts, values = ts[keep], values[keep]
            if overlapping or (prev_max is not None and t_min <= prev_max):
                overlapping.append((ts, values))  # not expected: fall back to a full merge
                prev_max = max(prev_max or t_max, t_max)
                continue
            if pending is not None:
                # head points before this chunk belong with the previous one
                cut = int(np.searchsorted(head_ts, t_min, side="left"))
                yield codec.merge([pending, (head_ts[hpos:cut], head_values[hpos:cut])])
                hpos = cut
            elif hpos < len(head_ts):
                cut = int(np.searchsorted(head_ts, t_min, side="left"))
                if cut > hpos:
                    yield head_ts[hpos:cut], head_values[hpos:cut]
                hpos = cut
            pending = (ts, values)
            prev_max = t_max
        if overlapping:
            assert pending is not None
            yield codec.merge([pending, *overlapping, (head_ts[hpos:], head_values[hpos:])])
            return
        if pending is not None:
            yield codec.merge([pending, (head_ts[hpos:], head_values[hpos:])])
        elif hpos < len(head_ts):
            yield head_ts[hpos:], head_values[hpos:]

    def count_points(self, conn: Connection, stream_id: int, start: int, end: int
                     ) -> int | None:
        """How many points [start, end] (inclusive) holds, from the chunks' point counts:
        only the (at most two) chunks the range cuts are decoded. None when that would not
        be exact, i.e. the head holds points in the range (they may overwrite chunk points)
        or chunks overlap; the caller then counts by reading."""
        if conn.exec_driver_sql(
                self._sql("SELECT 1 FROM point_head WHERE stream_id = ? AND ts >= ? "
                          "AND ts <= ? LIMIT 1"), (stream_id, start, end)).first():
            return None
        rows = conn.exec_driver_sql(
            self._sql(_in_range("c.id, c.t_min, c.t_max, c.n")),
            _range_args(stream_id, start, end)).all()
        total, prev_max, cut = 0, None, []
        for chunk_id, t_min, t_max, n in rows:
            if prev_max is not None and t_min <= prev_max:
                return None
            prev_max = t_max
            if t_min < start or t_max > end:
                cut.append(chunk_id)
            else:
                total += n
        for chunk_id in cut:
            data = conn.exec_driver_sql(
                self._sql("SELECT data FROM point_chunks WHERE id = ?"), (chunk_id,)
            ).scalar_one()
            ts, _ = codec.decode(data)
            total += int(np.searchsorted(ts, end, "right") - np.searchsorted(ts, start, "left"))
        return total

    def _chunks_in(self, conn: Connection, stream_id: int, lo: int, hi: int
                   ) -> Iterator[tuple[int, int, bytes]]:
        """(t_min, t_max, data) of the chunks overlapping [lo, hi], in order, a few at a
        time. On PostgreSQL through a binary server-side cursor: bytea arrives as bytes,
        not as hex text twice its size."""
        sql = self._sql(_in_range("c.t_min, c.t_max, c.data"))
        if not self.is_postgres:
            yield from conn.exec_driver_sql(sql, _range_args(stream_id, lo, hi),
                                            execution_options=_STREAMED)
            return
        raw = conn.connection.dbapi_connection
        assert raw is not None
        with raw.cursor(name=f"chunks_{next(_CURSOR_NAMES)}", binary=True) as cur:  # type: ignore[call-arg]
            cur.itersize = _STREAMED["max_row_buffer"]
            cur.execute(sql, _range_args(stream_id, lo, hi))
            yield from cur

    def start_for(self, conn: Connection, stream_id: int, top: int, n: int) -> int | None:
        """A time from which [time, top] holds about n stored points, for reading a stream
        backwards a window at a time; None when the stream's start comes first."""
        rows = conn.exec_driver_sql(
            self._sql("SELECT t_min, n FROM point_chunks WHERE stream_id = ? AND t_min <= ? "
                      "ORDER BY t_min DESC LIMIT 64"), (stream_id, top)).all()
        have = 0
        for t_min, size in rows:
            have += size
            if have >= n:
                return int(t_min)
        return int(rows[-1][0]) if len(rows) == 64 else None

    def _head(self, conn: Connection, stream_id: int, lo: int, hi: int) -> tuple[I64, F64]:
        rows = conn.exec_driver_sql(
            self._sql("SELECT ts, value FROM point_head WHERE stream_id = ? AND ts >= ? "
                      "AND ts <= ? ORDER BY ts"), (stream_id, lo, hi)).all()
        if not rows:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        ts, values = zip(*rows, strict=True)
        return np.array(ts, np.int64), np.array(values, np.float64)

    def chunk_stats(self, conn: Connection, stream_id: int) -> tuple[int, int]:
        """(chunks, head points) of a stream, for tests and diagnostics."""
        chunks = conn.exec_driver_sql(
            self._sql("SELECT count(*) FROM point_chunks WHERE stream_id = ?"),
            (stream_id,)).scalar_one()
        head = conn.exec_driver_sql(
            self._sql("SELECT count(*) FROM point_head WHERE stream_id = ?"),
            (stream_id,)).scalar_one()
        return int(chunks), int(head)

    # --- compaction ----------------------------------------------------------------------

    def compact(self, tx: Tx, stream_id: int) -> bool:
        """Fold the stream's head into its chunks and merge runs of small chunks; True if
        anything changed."""
        conn = tx.conn
        if self.is_postgres:
            conn.exec_driver_sql("SELECT id FROM streams WHERE id = %s FOR UPDATE",
                                 (stream_id,))
        changed = self._fold_head(conn, stream_id)
        return self._merge_small(conn, stream_id) or changed

    def _fold_head(self, conn: Connection, stream_id: int) -> bool:
        head_ts, head_values = self._head(conn, stream_id, -(2**63), 2**63 - 1)
        if not len(head_ts):
            return False
        lo, hi = int(head_ts[0]), int(head_ts[-1])
        rows = conn.exec_driver_sql(
            self._sql(_in_range("c.id, c.data")), _range_args(stream_id, lo, hi)).all()
        parts = [codec.decode(data) for _, data in rows]
        ts, values = codec.merge([*parts, (head_ts, head_values)])
        self._replace(conn, stream_id, [r[0] for r in rows], ts, values)
        conn.exec_driver_sql(
            self._sql("DELETE FROM point_head WHERE stream_id = ? AND ts >= ? AND ts <= ?"),
            (stream_id, lo, hi))
        return True

    def _merge_small(self, conn: Connection, stream_id: int) -> bool:
        meta = conn.exec_driver_sql(
            self._sql("SELECT id, n FROM point_chunks WHERE stream_id = ? ORDER BY t_min, id"),
            (stream_id,)).all()
        runs: list[list[int]] = []
        current: list[int] = []
        size = 0
        for chunk_id, n in meta:
            if n < self.small_chunk and size + n <= 4 * CHUNK_POINTS:
                current.append(chunk_id)
                size += n
                continue
            if len(current) > 1:
                runs.append(current)
            current, size = ([chunk_id], n) if n < self.small_chunk else ([], 0)
        if len(current) > 1:
            runs.append(current)
        for run in runs:
            marks = _marks(len(run))
            rows = conn.exec_driver_sql(
                self._sql(f"SELECT data FROM point_chunks WHERE id IN ({marks}) "
                          "ORDER BY t_min, id"), tuple(run)).all()
            ts, values = codec.merge([codec.decode(r[0]) for r in rows])
            self._replace(conn, stream_id, run, ts, values)
        return bool(runs)

    def _replace(self, conn: Connection, stream_id: int, old: list[int], ts: I64,
                 values: F64) -> None:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        cur = raw.cursor()
        try:
            if old:
                self._delete_chunks(cur, old)
            rows: list[tuple[int, int, int, int, bytes]] = []
            self._chunk_rows(rows, stream_id, ts, values, compress=self.compress)
            self._insert_chunks(cur, rows)
        finally:
            cur.close()

    def candidates(self, conn: Connection) -> list[int]:
        """Streams with head points or several small chunks (after a restart)."""
        heads = conn.exec_driver_sql("SELECT DISTINCT stream_id FROM point_head").all()
        small = conn.exec_driver_sql(
            self._sql("SELECT stream_id FROM point_chunks WHERE n < ? GROUP BY stream_id "
                      "HAVING count(*) > 1"), (self.small_chunk,)).all()
        return sorted({r[0] for r in heads} | {r[0] for r in small})
