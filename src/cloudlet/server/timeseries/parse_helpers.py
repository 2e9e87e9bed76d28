"""Line protocol and JSON point bodies parsed in helper processes, beside the server's own.

On SQLite the server is one process, and its GIL is what caps ingest: HTTP, the writer and
the events take turns on it. Parsing a body (a few ms of numpy or orjson per 5,000 points)
needs none of the server's state, so while other writes are under way (`busy`), bodies of
`MIN_BODY` bytes and more go to an idle helper process (each spawned once, at start-up),
which sends the blocks back packed in two arrays. A lone client's body is parsed in the
server's process: nothing else wants the GIL then, and the round trip would only add to its
wait. So are small bodies, and every body while no helper is idle or up: the answer is the
same either way, errors included.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle
import queue
import struct
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from cloudlet.server.core.errors import DomainError
from cloudlet.server.timeseries import lineprotocol, parsing
from cloudlet.server.timeseries.batch import Batch, Block, now_micros

log = logging.getLogger(__name__)

MIN_BODY = 32 << 10  # below this, the round trip to a helper costs more than it saves


def _lines(body: bytes, factor: int, now: int) -> Batch:
    return lineprotocol.parse(body, factor, default_ts=now)


# what a helper can parse: the body, then the arguments the request names
_PARSERS: dict[str, Callable[..., Batch]] = {"lines": _lines, "json": parsing.parse_json}
_LENGTH = struct.Struct("<I")  # the pickled (parser, arguments) header's length


class ParseHelpers:
    """`count` helper processes, started by `start()` in the background; 0: none. `busy`
    says whether other writes are under way."""

    def __init__(self, count: int, busy: Callable[[], bool]) -> None:
        self.count = count
        self.busy = busy
        self._idle: queue.SimpleQueue[_Helper] = queue.SimpleQueue()
        self._all: list[_Helper] = []
        self._lock = threading.Lock()
        self._closed = False
        self.handed = 0  # bodies parsed by a helper so far

    def start(self) -> None:
        """Spawn the helpers on a thread of their own: until one is up, bodies are parsed
        here, so start-up never waits for them."""
        if self.count:
            threading.Thread(target=self._spawn, args=(self.count,), daemon=True,
                             name="cloudlet-parse-helpers").start()

    def _spawn(self, count: int) -> None:
        for _ in range(count):
            try:
                helper = _Helper()
            except Exception:
                log.exception("could not start a parse helper; parsing in the server")
                return
            with self._lock:
                if self._closed:
                    helper.stop()
                    return
                self._all.append(helper)
            self._idle.put(helper)

    def parse_lines(self, body: bytes, factor: int) -> Batch:
        """`lineprotocol.parse(body, factor)`, in a helper when the body is big and one is
        idle."""
        return self._parse("lines", body, factor, now_micros())

    def parse_json(self, body: bytes, precision: str | None) -> Batch:
        """`parsing.parse_json(body, precision)`, in a helper when the body is big and one
        is idle."""
        return self._parse("json", body, precision)

    def _parse(self, parser: str, body: bytes, *args: Any) -> Batch:
        def here() -> Batch:
            return _PARSERS[parser](body, *args)

        if len(body) < MIN_BODY or not self.busy():
            return here()
        try:
            helper = self._idle.get_nowait()
        except queue.Empty:
            return here()
        header = pickle.dumps((parser, args))
        try:
            reply = helper.call(_LENGTH.pack(len(header)) + header + body)
        except (OSError, EOFError):  # it died: parse here, and put another in its place
            log.warning("a parse helper stopped; starting another")
            helper.stop()
            with self._lock:
                if helper in self._all:  # not if close() took them all meanwhile
                    self._all.remove(helper)
            threading.Thread(target=self._spawn, args=(1,), daemon=True).start()
            return here()
        self._idle.put(helper)
        self.handed += 1
        kind, *rest = pickle.loads(reply)
        if kind == "failed":
            return here()
        if kind == "error":
            error_type, detail, extra = rest
            raise error_type(detail, **extra)
        return _unpack(*rest)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {"helpers": len(self._all), "handed": self.handed}

    def close(self) -> None:
        with self._lock:
            self._closed = True
            helpers, self._all = self._all, []
        for helper in helpers:
            helper.stop()


class _Helper:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")  # the server has threads: never fork it
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=serve, args=(child,), daemon=True,
                                   name="cloudlet-parse-helper")
        self.process.start()
        child.close()

    def call(self, request: bytes) -> bytes:
        self.conn.send_bytes(request)
        return self.conn.recv_bytes()

    def stop(self) -> None:
        try:
            self.conn.close()  # the helper sees EOF and exits
        except OSError:
            pass
        self.process.join(5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


def serve(conn: Connection) -> None:
    """A helper's loop: a request in, the parsed blocks (or the refusal) out."""
    import gc
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C stops the server, which stops us
    gc.freeze()
    while True:
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):
            return
        (length,) = _LENGTH.unpack_from(request)
        start = _LENGTH.size + length
        try:
            parser, args = pickle.loads(request[_LENGTH.size:start])
            batch = _PARSERS[parser](request[start:], *args)
            reply: tuple[Any, ...] = ("ok", *_pack(batch))
        except DomainError as error:
            reply = ("error", type(error), error.detail, error.extra)
        except Exception:  # not a refusal: the server parses the body itself and answers
            reply = ("failed",)
        conn.send_bytes(pickle.dumps(reply, protocol=5))


def _pack(batch: Batch) -> tuple[np.ndarray, np.ndarray, list[int], list[tuple[Any, ...]]]:
    blocks = batch.blocks
    return (np.concatenate([b.ts for b in blocks]) if blocks else np.empty(0, np.int64),
            np.concatenate([b.values for b in blocks]) if blocks else np.empty(0, np.float64),
            [len(b.ts) for b in blocks],
            [(b.device, b.series, b.stream, b.tags, b.ordered) for b in blocks])


def _unpack(ts: np.ndarray, values: np.ndarray, sizes: list[int],
            meta: list[tuple[Any, ...]]) -> Batch:
    batch = Batch()
    start = 0
    for size, (device, series, stream, tags, ordered) in zip(sizes, meta, strict=True):
        batch.blocks.append(Block(ts=ts[start:start + size], values=values[start:start + size],
                                  device=device, series=series, stream=stream, tags=tags,
                                  ordered=ordered))
        start += size
    return batch
