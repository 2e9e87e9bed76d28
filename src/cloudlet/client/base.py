"""What the sync and async clients share that does no I/O: construction shortcuts and the
configured server, token and project."""

from __future__ import annotations

from typing import Any, Self

from cloudlet.client.connection import Connection


class ClientBase:
    connection: Connection

    @classmethod
    def from_env(cls, **options: Any) -> Self:
        """Configured from CLOUDLET_URL / CLOUDLET_TOKEN / CLOUDLET_PROJECT only."""
        return cls(profile=False, **options)

    @classmethod
    def from_profile(cls, name: str, **options: Any) -> Self:
        """Configured from the named profile only (the environment is ignored)."""
        return cls(profile=name, env=False, **options)

    @property
    def url(self) -> str:
        """The server's root URL."""
        return self.connection.url

    @property
    def token(self) -> str | None:
        return self.connection.token

    @property
    def project(self) -> str | None:
        return self.connection.project

    def __repr__(self) -> str:
        scope = f" project={self.project}" if self.project else ""
        return f"<{type(self).__name__} {self.url}{scope}>"

    def set_token(self, token: str | None) -> None:
        """Use `token` from now on (None: make anonymous requests)."""
        self.connection.token = token
