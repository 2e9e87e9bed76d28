"""Topics and who may follow them. Each domain registers an authorizer for its topic kind
(`user`, `project`, later `device`, `stream`, `dataset`); it answers the canonical topic name
or raises the domain error a caller without read access gets."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Connection

from cloudlet.server.core.errors import Invalid, NotFound
from cloudlet.server.core.principal import Principal

Authorizer = Callable[[Connection, Principal, str], str]


class TopicRegistry:
    def __init__(self) -> None:
        self._kinds: dict[str, Authorizer] = {}

    def register(self, kind: str, authorizer: Authorizer) -> None:
        self._kinds[kind] = authorizer

    @property
    def kinds(self) -> list[str]:
        return sorted(self._kinds)

    def authorize(self, conn: Connection, principal: Principal, topic: str) -> str:
        kind, sep, key = topic.partition(":")
        if not sep or not key or kind not in self._kinds:
            raise Invalid(
                f"Unknown topic {topic!r}; topics look like "
                + ", ".join(f"{k}:<id>" for k in self.kinds) + "."
            )
        return self._kinds[kind](conn, principal, key)


def user_topic(conn: Connection, principal: Principal, key: str) -> str:
    """Only the user themself, with an unrestricted token, follows their user topic."""
    if not key.isdigit() or int(key) != principal.user_id or principal.restricted:
        raise NotFound(f"No topic user:{key}.")
    return f"user:{int(key)}"
