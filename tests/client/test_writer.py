"""`client.writer`: batching on size and interval, flush/close/send, callbacks, refused
batches, retries, and the spool surviving a SIGKILL and a server that is down for a while."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path
from typing import Any

import pytest

import cloudlet
from cloudlet import DataPoint, DataSeries, DataStore, Timestamp, TimeUnit
from tests.conftest import Launch
from tests.support.accounts import TestUser, make_user
from tests.support.live import LiveServer, free_port, restart_server
from tests.support.writing import T0, eventually, pause, values_of


def test_size_and_interval_flush_and_callbacks(client: cloudlet.Client, user: TestUser
                                               ) -> None:
    project = user.home_project["id"]
    sent: list[tuple[cloudlet.client.batches.Batch, Any]] = []
    w = client.writer(project, device="w-size", batch_size=10, flush_interval=3600,
                      on_success=lambda b, answer: sent.append((b, answer)))
    for i in range(25):
        w.add("t", i, T0 + i)
    eventually(lambda: len(sent) == 2, "two full batches sent without a flush")
    assert [len(b) for b, _ in sent] == [10, 10]
    assert sent[0][1]["points"] == 10
    assert [p.value for p in sent[0][0].series()[0]] == list(range(10))
    assert sent[0][0].series()[0].points[3].timestamp == Timestamp(T0 + 3)
    assert w.unsent == 5
    w.close()
    assert [len(b) for b, _ in sent] == [10, 10, 5]
    assert values_of(client, project, "t", "w-size") == list(range(25))

    ticks: list[int] = []
    with client.writer(project, device="w-tick", batch_size=10_000, flush_interval=0.05,
                       on_success=lambda b, _: ticks.append(len(b))) as w:
        w.add("t", 1.5, T0)
        eventually(lambda: ticks == [1], "a lone point sent on the interval")
        w.add("t", 2.5, T0 + 1)
        eventually(lambda: ticks == [1, 1], "the next interval")
    assert values_of(client, project, "t", "w-tick") == [1.5, 2.5]


def test_every_add_form_and_thread_safety(client: cloudlet.Client, user: TestUser) -> None:
    project = user.home_project["id"]
    with client.writer(project, device="w-forms", batch_size=64) as w:
        w.add("a", DataPoint(1, T0))
        w.add("a", 2, Timestamp(T0 + 1, TimeUnit.MILLISECONDS))
        w.add_series(DataSeries("b", [DataPoint(3, T0), DataPoint(4, T0 + 1)]))
        w.add_series("c", [DataPoint(5, T0)])
        table = DataStore(["a", "b"])
        table.add({"a": 6}, T0 + 2)
        table.add([7, 8], T0 + 3)
        w.add_table(table)
        for bad in (lambda: w.add("time", 1, T0), lambda: w.add("a", "x", T0),
                    lambda: w.add("a", DataPoint(1, T0), T0),
                    lambda: w.add("a", 1, 10**15)):
            with pytest.raises((TypeError, ValueError)):
                bad()

        def many(k: int) -> None:
            for i in range(500):
                w.add(f"m{k}", i, T0 + i)

        threads = [threading.Thread(target=many, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert values_of(client, project, "a", "w-forms") == [1, 2, 6, 7]
    assert values_of(client, project, "b", "w-forms") == [3, 4, 8]
    assert values_of(client, project, "c", "w-forms") == [5]
    for k in range(4):
        assert values_of(client, project, f"m{k}", "w-forms") == list(range(500))


def test_flush_waits_for_the_commit(client: cloudlet.Client, user: TestUser,
                                    server: LiveServer) -> None:
    project = user.home_project["id"]
    with client.writer(project, device="w-flush", batch_size=3, flush_interval=3600) as w:
        pause(server, 0.5)
        for i in range(7):
            w.add("t", i, T0 + i)
        w.flush()  # the server's writer is held: flush returns only once it has committed
        assert w.unsent == 0
        assert values_of(client, project, "t", "w-flush") == list(range(7))
        w.add("t", 7, T0 + 7)
        w.flush()
        assert values_of(client, project, "t", "w-flush") == list(range(8))
    with pytest.raises(RuntimeError, match="closed"):
        w.add("t", 8, T0)


def test_a_refused_batch_goes_to_on_error_once(client: cloudlet.Client, user: TestUser
                                               ) -> None:
    project = user.home_project["id"]
    errors: list[tuple[Any, cloudlet.CloudletError]] = []
    w = client.writer(project, device="not a key!", batch_size=2, backoff=0.001,
                      on_error=lambda b, e: errors.append((b, e)))
    for i in range(3):
        w.add("t", i, T0 + i)
    w.flush()  # reported to on_error, so flush does not raise
    assert [len(b) for b, _ in errors] == [2, 1]
    assert all(isinstance(e, cloudlet.BadRequest) for _, e in errors)
    assert w.unsent == 0
    w.close()
    assert len(errors) == 2  # never sent again

    w = client.writer(project, device="not a key!")
    w.add("t", 1, T0)
    with pytest.raises(cloudlet.WriteFailed) as failed:
        w.flush()
    assert isinstance(failed.value.failures[0][1], cloudlet.BadRequest)
    w.close()  # the failure was raised once, by flush


def test_send_is_synchronous_and_raises(client: cloudlet.Client, user: TestUser) -> None:
    project = user.home_project["id"]
    with client.writer(project, device="w-send", flush_interval=3600) as w:
        w.add("t", 1, T0)
        w.send()
        assert values_of(client, project, "t", "w-send") == [1]
        w.add("t", 2, T0)
        w.send()
        assert values_of(client, project, "t", "w-send") == [2]
    with client.writer(project, device="bad key!", flush_interval=3600) as w:
        w.add("t", 1, T0)
        with pytest.raises(cloudlet.BadRequest):
            w.send()
        assert w.unsent == 0
    nowhere = cloudlet.Client(f"http://127.0.0.1:{free_port()}", user.token, profile=False)
    w = nowhere.writer(project, device="w-send", flush_interval=3600, backoff=0.01)
    w.add("t", 1, T0)
    with pytest.raises(cloudlet.ConnectionFailed):
        w.send()
    assert w.unsent == 1  # still queued, retried in the background
    with pytest.raises(cloudlet.WriteFailed, match="1 points unsent"):
        w.close(timeout=0.2)
    nowhere.close()


def test_throttling_is_waited_out_and_retries_can_give_up(
        launch: Launch, caplog: pytest.LogCaptureFixture) -> None:
    server = launch(CLOUDLET_WRITE_QUEUE_POINTS="10")
    user = make_user(server)
    project = user.home_project["id"]
    with cloudlet.Client(server.url, user.token, profile=False) as client:
        # Two writers' batches meet a held server writer whose queue takes 10 points: the
        # second to arrive gets 429 + Retry-After, waits, and is sent again.
        pause(server, 2)
        with caplog.at_level(logging.INFO, "cloudlet.client.writer"):
            a = client.writer(project, device="w-a", batch_size=10, backoff=0.01)
            b = client.writer(project, device="w-b", batch_size=5, backoff=0.01)
            for i in range(10):
                a.add("t", i, T0 + i)
            for i in range(5):
                b.add("t", i, T0 + i)
            b.close()
            a.close()
        assert values_of(client, project, "t", "w-a") == list(range(10))
        assert values_of(client, project, "t", "w-b") == list(range(5))
        assert "HTTP 429" in caplog.text or "429 Too Many Requests" in caplog.text

    nowhere = cloudlet.Client(f"http://127.0.0.1:{free_port()}", user.token, profile=False)
    w = nowhere.writer(project, device="w-give-up", max_retries=2, backoff=0.001)
    w.add("t", 1, T0)
    with pytest.raises(cloudlet.WriteFailed) as failed:
        w.flush()
    assert isinstance(failed.value.failures[0][1], cloudlet.ConnectionFailed)
    w.close()
    nowhere.close()


# --- the spool ------------------------------------------------------------------------------

def test_spool_lock_and_target(client: cloudlet.Client, user: TestUser, tmp_path: Path
                               ) -> None:
    project = user.home_project["id"]
    nowhere = cloudlet.Client(f"http://127.0.0.1:{free_port()}", user.token, profile=False)
    w = nowhere.writer(project, device="w-lock", spool_dir=tmp_path)
    with pytest.raises(cloudlet.SpoolInUse, match=f"pid {os.getpid()}"):
        client.writer(project, device="w-lock", spool_dir=tmp_path)
    w.add("t", 1, T0)
    w.close(timeout=0.1)  # the point stays in the spool; no error with a spool
    with pytest.raises(ValueError, match="holds unsent points"):
        client.writer(project, device="other", spool_dir=tmp_path)
    with client.writer(project, device="w-lock", spool_dir=tmp_path) as w:
        w.flush()
    assert values_of(client, project, "t", "w-lock") == [1]
    with client.writer(project, device="other", spool_dir=tmp_path):
        pass  # an empty spool can serve another target
    nowhere.close()


CHILD = textwrap.dedent(f"""
    import os, sys
    import cloudlet
    url, token, project, spool, side = sys.argv[1:6]
    client = cloudlet.Client(url, token, profile=False)
    w = client.writer(int(project), device="w-kill", spool_dir=spool, batch_size=50,
                      flush_interval=0.01, backoff=0.01)
    out = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    i = 0
    while True:
        w.add("t", i, {T0} + i)
        os.write(out, str(i).encode() + b"\\n")  # add() returned: this point must arrive
        i += 1
""")


ASYNC_CHILD = textwrap.dedent(f"""
    import asyncio, os, sys
    import cloudlet
    url, token, project, spool, side = sys.argv[1:6]

    async def main():
        client = cloudlet.AsyncClient(url, token, profile=False)
        w = client.writer(int(project), device="w-kill", spool_dir=spool, batch_size=50,
                          flush_interval=0.01, backoff=0.01)
        out = os.open(side, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
        i = 0
        while True:
            await w.add("t", i, {T0} + i)
            os.write(out, str(i).encode() + b"\\n")  # add() returned: this point must arrive
            i += 1

    asyncio.run(main())
""")


@pytest.mark.parametrize("child", [CHILD, ASYNC_CHILD], ids=["sync", "async"])
def test_sigkill_mid_flush_then_restart_delivers_exactly_once(
        client: cloudlet.Client, user: TestUser, server: LiveServer, tmp_path: Path,
        child: str) -> None:
    """The killed writer is a sync or an async one; a sync writer picks up its spool."""
    project = user.home_project["id"]
    script, side, spool = tmp_path / "child.py", tmp_path / "added", tmp_path / "spool"
    script.write_text(child)
    process = subprocess.Popen([sys.executable, str(script), server.url, user.token,
                                str(project), str(spool), str(side)],
                               env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})

    def lines() -> int:
        return side.read_text().count("\n") if side.exists() else 0

    try:
        eventually(lambda: lines() >= 50, "the child adding points")
        # hold the server's writer: the child's batch is in flight when it dies, more wait
        pause(server, 3)
        start = lines()
        eventually(lambda: lines() >= start + 300, "300 more points added")
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    added = [int(line) for line in side.read_text().splitlines()]
    assert added == list(range(len(added)))
    wal = spool / "spool.db-wal"
    if wal.exists():  # a torn tail (what a power cut mid-write leaves) is dropped on open
        with wal.open("ab") as f:
            f.write(os.urandom(1500))
    with client.writer(project, device="w-kill", spool_dir=spool) as w:
        assert w.unsent >= 300  # what the server had not acknowledged
    arrived = values_of(client, project, "t", "w-kill")
    # every point add() returned for, each once, in order; at most the one add() in flight
    # (on disk, not yet returned) may have arrived too
    assert arrived[:len(added)] == [float(i) for i in added]
    assert arrived == [float(i) for i in range(len(arrived))]
    assert len(arrived) - len(added) <= 1
    with client.writer(project, device="w-kill", spool_dir=spool) as w:
        assert w.unsent == 0  # acknowledged batches are gone from the spool


@pytest.mark.parametrize("spooled", [False, True])
def test_server_down_for_a_while(launch: Launch, tmp_path: Path, spooled: bool) -> None:
    server = launch()
    user = make_user(server)
    project = user.home_project["id"]
    client = cloudlet.Client(server.url, user.token, profile=False)
    got: list[int] = []
    w = client.writer(project, device="w-down", batch_size=20, flush_interval=0.01,
                      backoff=0.05, max_backoff=0.2, on_success=lambda b, _: got.append(len(b)),
                      spool_dir=tmp_path / "spool" if spooled else None)
    w.add("t", 0, T0)
    w.flush()
    server.stop()
    try:
        for i in range(1, 101):
            w.add("t", i, T0 + i)
        eventually(lambda: w.unsent == 100, "the writer holding on while the server is down")
        server = restart_server(server)
        w.flush()
        w.close()
        assert sum(got) == 101
        assert values_of(client, project, "t", "w-down") == list(range(101))
    finally:
        server.stop()
        client.close()


def test_spool_counts(client: cloudlet.Client, user: TestUser, tmp_path: Path) -> None:
    """The spool holds exactly what the server has not acknowledged."""
    project = user.home_project["id"]
    nowhere = cloudlet.Client(f"http://127.0.0.1:{free_port()}", user.token, profile=False)
    w = nowhere.writer(project, device="w-count", spool_dir=tmp_path, batch_size=7,
                       backoff=0.001)
    for i in range(30):
        w.add("t", i, T0 + i)
    w.close(timeout=0.2)
    nowhere.close()
    sent: list[int] = []
    with client.writer(project, device="w-count", spool_dir=tmp_path,
                       on_success=lambda b, _: sent.append(len(b))) as w:
        assert w.unsent == 30
    assert sum(sent) == 30
    assert values_of(client, project, "t", "w-count") == list(range(30))
