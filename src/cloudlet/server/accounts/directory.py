"""Read-only user look-ups that the org and project services use (they never read `users`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Connection, func, select

from cloudlet.server.accounts.tables import users
from cloudlet.server.core.errors import NotFound


class UserDirectory:
    def by_name(self, conn: Connection, username: str) -> dict[str, Any]:
        """An active user by username (any case); 404 when there is none."""
        row = conn.execute(
            select(users.c.id, users.c.username).where(
                func.lower(users.c.username) == username.lower(), users.c.is_active.is_(True)
            )
        ).first()
        if row is None:
            raise NotFound(f"No user {username!r}.")
        return dict(row._mapping)

    def usernames(self, conn: Connection, ids: Iterable[int]) -> dict[int, str]:
        wanted = list(set(ids))
        if not wanted:
            return {}
        found = conn.execute(select(users.c.id, users.c.username).where(users.c.id.in_(wanted)))
        return {row.id: row.username for row in found}
