"""Events go out after commit, never for rolled-back work (real database, real bus)."""

from __future__ import annotations

import pytest

from cloudlet.server.core.db import Database
from cloudlet.server.events.bus import MemoryBus
from cloudlet.server.events.service import EventService
from cloudlet.server.events.topics import TopicRegistry


class Boom(Exception):
    pass


def test_publish_after_waits_for_the_commit_and_skips_rollbacks(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")
    bus = MemoryBus(history_size=10, history_age=60)
    events = EventService(db, bus, TopicRegistry())
    try:
        with db.write() as tx:
            events.publish_after(tx, "project:1", "project.updated", {"n": 1})
            assert bus._topics == {}  # nothing before the commit
        with pytest.raises(Boom), db.write() as tx:
            events.publish_after(tx, "project:1", "project.updated", {"n": 2})
            raise Boom
    finally:
        db.dispose()
    held = bus._topics["project:1"].log
    assert [e.data["n"] for e in held] == [1]
