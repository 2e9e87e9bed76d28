"""`Spool`: a writer's points on disk until the server acknowledges them.

One SQLite database in `spool_dir` (WAL, `synchronous=FULL`): `append()` returns only after
the transaction holding its rows has committed, and a WAL commit is fsync'd first. A torn
write (power cut, a SIGKILL while the OS writes) can only hit a transaction that had not
committed, i.e. rows whose `append()` had not returned; SQLite's WAL frames carry checksums
and a commit marker, and recovery drops the incomplete tail. Nothing here parses its own
framing, which is the reason for SQLite over hand-made segment files.

Concurrent `append()`s share one commit (group commit): the first caller writes every row
queued so far while the others wait, so several adding threads pay one fsync between them.

A batch is recorded (rows' sequence range, key and exact body) in the same database before
it is sent, so after a restart it is re-sent byte for byte with the same key; on
acknowledgement its rows and record are deleted. A lock file (`flock`, released by the OS
when the process dies, even by SIGKILL) allows one live writer per directory.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import IO

from cloudlet.client.batches import Batch, PointQueue, Row, batch_body, new_key
from cloudlet.client.errors import SpoolInUse

__all__ = ["Spool"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS points (
    seq INTEGER PRIMARY KEY, series TEXT NOT NULL, ts INTEGER NOT NULL, value NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY, key TEXT NOT NULL, first INTEGER NOT NULL, last INTEGER NOT NULL,
    body BLOB NOT NULL);
"""


class _Group:
    """Rows committed together; every adder in it learns the outcome."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, str, int, object]] = []
        self.done = False
        self.error: BaseException | None = None


class Spool(PointQueue):
    """The on-disk queue of one writer; `target` (project and device) is recorded, and a spool
    still holding points for another target refuses to open."""

    def __init__(self, directory: str | os.PathLike[str], project: str,
                 device: str | None) -> None:
        self.path = Path(directory)
        self.path.mkdir(parents=True, exist_ok=True)
        self.device = device
        self._lock_file = _lock(self.path / "lock")
        try:
            self._db = sqlite3.connect(self.path / "spool.db", isolation_level=None,
                                       check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._check_target(project, device)
            self._next = 1 + self._scalar("SELECT max(seq) FROM points")
            self._cut_through = self._scalar("SELECT max(last) FROM batches")
            self._next_batch = 1 + self._scalar("SELECT max(id) FROM batches")
            self._unbatched = int(self._db.execute(
                "SELECT count(*) FROM points WHERE seq > ?", (self._cut_through,)
            ).fetchone()[0])
        except BaseException:
            self._lock_file.close()
            raise
        self._last = self._next - 1
        self._db_lock = threading.Lock()
        self._cond = threading.Condition()
        self._group = _Group()
        self._committing = False

    # --- adding ----------------------------------------------------------------------------

    def append(self, rows: Sequence[Row]) -> int:
        with self._cond:
            group = self._group
            for name, ts, value in rows:
                group.rows.append((self._next, name, ts, value))
                self._next += 1
            last = self._next - 1
            while not group.done:
                if self._committing:
                    self._cond.wait()
                    continue
                self._committing = True
                self._group = _Group()
                self._cond.release()
                try:
                    self._commit(group)
                finally:
                    self._cond.acquire()
                    self._committing = False
                    self._cond.notify_all()
            if group.error is not None:
                raise OSError(f"The writer spool {self.path} could not store points: "
                              f"{group.error}") from group.error
            return last

    def _commit(self, group: _Group) -> None:
        try:
            with self._db_lock:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    self._db.executemany(
                        "INSERT INTO points (seq, series, ts, value) VALUES (?, ?, ?, ?)",
                        group.rows)
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                # under the lock: cut() (the sender) lowers the same count
                self._last = group.rows[-1][0]
                self._unbatched += len(group.rows)
        except BaseException as error:  # the adders raise it; nothing of the group is kept
            group.error = error
        finally:
            group.done = True

    # --- sending ---------------------------------------------------------------------------

    def cut(self, limit: int) -> Batch | None:
        with self._db_lock:
            found = self._db.execute(
                "SELECT seq, series, ts, value FROM points WHERE seq > ? ORDER BY seq LIMIT ?",
                (self._cut_through, limit)).fetchall()
            if not found:
                return None
            rows: list[Row] = [(s, t, v) for _, s, t, v in found]
            batch = Batch(self._next_batch, new_key(), found[0][0], found[-1][0], rows,
                          batch_body(rows, self.device))
            self._db.execute("INSERT INTO batches (id, key, first, last, body) "
                             "VALUES (?, ?, ?, ?, ?)",
                             (batch.id, batch.key, batch.first, batch.last, batch.body))
            self._next_batch += 1
            self._cut_through = batch.last
            self._unbatched -= len(rows)
            return batch

    def pending(self) -> list[Batch]:
        with self._db_lock:
            found = self._db.execute(
                "SELECT id, key, first, last, body FROM batches ORDER BY id").fetchall()
            batches = []
            for batch_id, key, first, last, body in found:
                rows: list[Row] = [tuple(r) for r in self._db.execute(  # type: ignore[misc]
                    "SELECT series, ts, value FROM points WHERE seq BETWEEN ? AND ? "
                    "ORDER BY seq", (first, last))]
                batches.append(Batch(batch_id, key, first, last, rows, bytes(body)))
            return batches

    def settle(self, batch: Batch) -> None:
        with self._db_lock:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.execute("DELETE FROM points WHERE seq BETWEEN ? AND ?",
                             (batch.first, batch.last))
            self._db.execute("DELETE FROM batches WHERE id = ?", (batch.id,))
            self._db.execute("COMMIT")

    @property
    def unbatched(self) -> int:
        return self._unbatched

    @property
    def appended_through(self) -> int:
        return self._last

    def held(self) -> int:
        """Points on disk not yet acknowledged."""
        with self._db_lock:
            return int(self._db.execute("SELECT count(*) FROM points").fetchone()[0])

    def close(self) -> None:
        with self._db_lock:
            self._db.close()
        self._lock_file.close()

    # --- opening ---------------------------------------------------------------------------

    def _scalar(self, sql: str) -> int:
        value = self._db.execute(sql).fetchone()[0]
        return int(value or 0)

    def _check_target(self, project: str, device: str | None) -> None:
        wanted = json.dumps({"project": project, "device": device})
        found = self._db.execute("SELECT value FROM meta WHERE name = 'target'").fetchone()
        if found and found[0] != wanted and self._scalar("SELECT count(*) FROM points"):
            held = json.loads(found[0])
            raise ValueError(
                f"The spool {self.path} holds unsent points for project {held['project']!r}, "
                f"device {held['device']!r}; open it with those, or use another spool_dir.")
        self._db.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('target', ?)",
                         (wanted,))


def _lock(path: Path) -> IO[str]:
    """Hold an exclusive lock on `path` for as long as the file stays open (POSIX `flock`;
    imported here so that `import cloudlet` works where there is none)."""
    import fcntl

    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held open while in use
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        handle.seek(0)
        holder = handle.read().strip() or "another process"
        handle.close()
        raise SpoolInUse(f"The spool {path.parent} is in use by another writer "
                         f"(pid {holder}); one writer per spool_dir.") from None
    handle.seek(0)
    handle.truncate()
    handle.write(str(os.getpid()))
    handle.flush()
    return handle
