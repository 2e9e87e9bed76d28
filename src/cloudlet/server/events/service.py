"""Publishing domain events, and checking who may follow a topic.

Services publish through `publish_after(tx, …)`, so an event goes out only once its
transaction has committed, never for rolled-back work.
"""

from __future__ import annotations

import logging
from typing import Any

from cloudlet.server.core.db import Database, Tx
from cloudlet.server.core.principal import Principal
from cloudlet.server.events.bus import Bus
from cloudlet.server.events.model import Event
from cloudlet.server.events.topics import TopicRegistry

log = logging.getLogger(__name__)


class EventService:
    def __init__(self, db: Database, bus: Bus, topics: TopicRegistry) -> None:
        self.db = db
        self.bus = bus
        self.topics = topics

    def publish(self, topic: str, event: str, data: dict[str, Any]) -> Event | None:
        try:
            return self.bus.publish(topic, event, data)
        except Exception:  # the work is committed; a bus outage must not turn it into a 500
            log.exception("could not publish %s on %s", event, topic)
            return None

    def publish_after(self, tx: Tx, topic: str, event: str, data: dict[str, Any]) -> None:
        tx.after_commit(lambda: self.publish(topic, event, data))

    def authorize(self, principal: Principal, topic: str) -> str:
        """The canonical name of a topic the caller may follow; raises otherwise."""
        with self.db.read() as conn:
            return self.topics.authorize(conn, principal, topic.strip())
