"""Who is calling: every face resolves its credentials to one `Principal`, and services decide.

Rights are levels: what a user's roles grant on an object, capped by the token's scope and
restricted to the token's project (or device) when it has one.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

from cloudlet.server.core.errors import PermissionDenied


class Level(IntEnum):
    NONE = 0
    READ = 1
    WRITE = 2
    ADMIN = 3

    @classmethod
    def of_scope(cls, scope: str) -> Level:
        return {"read": cls.READ, "write": cls.WRITE, "admin": cls.ADMIN}[scope]


SCOPES = ("read", "write", "admin")


@dataclass(frozen=True)
class Principal:
    user_id: int
    username: str
    is_superuser: bool
    scope: str
    token_id: int
    token_kind: str  # "api" or "jwt"
    project_id: int | None = None
    device_id: int | None = None

    @property
    def max_level(self) -> Level:
        return Level.of_scope(self.scope)

    @property
    def restricted(self) -> bool:
        """A project or device token: it may touch nothing outside its project."""
        return self.project_id is not None or self.device_id is not None

    def cap(self, granted: Level) -> Level:
        return Level(min(granted, self.max_level))

    def require_scope(self, needed: Level, action: str) -> None:
        if self.max_level < needed:
            raise PermissionDenied(
                f"This token's scope '{self.scope}' does not allow {action}; "
                f"it needs '{SCOPES[needed - 1]}'."
            )

    def require_unrestricted(self, action: str) -> None:
        if self.restricted:
            raise PermissionDenied(f"A project or device token cannot {action}.")
