"""Where a client's requests go and which credentials they carry.

Values come from the constructor's arguments, then `CLOUDLET_URL` / `CLOUDLET_TOKEN` /
`CLOUDLET_PROJECT`, then a profile. A profile's token and project are used only when its URL
is the one the client talks to, so `Client(url="http://elsewhere")` never sends the active
profile's token to another server. For the same reason the token is only ever sent to the
configured server's origin, even when a call is given a full URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal
from urllib.parse import quote, urlsplit, urlunsplit

from cloudlet.client.errors import ConfigError
from cloudlet.client.profiles import ProfileStore

__all__ = ["API_PREFIX", "Connection", "segment"]

API_PREFIX = "/api/v1"


def segment(value: object) -> str:
    """One path segment, escaped: ids, gids, slugs, usernames."""
    return quote(str(value), safe="")


def _root(url: str) -> str:
    """The server root: no trailing slash, and no `/api/v1` if someone pasted the API URL."""
    url = url.strip().rstrip("/")
    if url.endswith(API_PREFIX):
        url = url[: -len(API_PREFIX)]
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"The server URL must start with http:// or https://, not {url!r}.")
    return url


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc


@dataclass
class Connection:
    """The server root URL, the token (if any), the project (for project-relative paths)
    and the name of the profile the values came from (if any)."""

    url: str
    token: str | None = None
    project: str | None = None
    profile: str | None = None

    @classmethod
    def configure(
        cls,
        url: str | None = None,
        token: str | None = None,
        project: object | None = None,
        *,
        profile: str | Literal[False] | None = None,
        env: bool = True,
    ) -> Connection:
        """Fill what the caller left out from the environment and a profile.

        `profile`: None uses the active profile (if any), a name uses that one, False none.
        Profiles are only read when the URL or the token is still missing.
        `env`: False ignores the CLOUDLET_* variables.
        """
        if env:
            url = url or os.environ.get("CLOUDLET_URL") or None
            token = token or os.environ.get("CLOUDLET_TOKEN") or None
            if project is None:
                project = os.environ.get("CLOUDLET_PROJECT") or None
        used: str | None = None
        if profile is not False and (url is None or token is None):
            store = ProfileStore()
            name = profile if isinstance(profile, str) else store.active_name
            if name is not None:
                found = store.get(name)
                if url is None and found.url:
                    url = found.url
                if found.url and _root(found.url) == _root(url or ""):
                    token = token or found.token
                    project = found.project if project is None else project
                    used = name
        if not url:
            raise ConfigError(
                "No Cloudlet server URL: pass url=..., set CLOUDLET_URL, "
                "or run `cloudlet login` to store a profile."
            )
        return cls(_root(url), token, None if project is None else str(project), used)

    @property
    def api_root(self) -> str:
        return self.url + API_PREFIX

    def url_for(self, path: str) -> str:
        """A full URL for `path`: a full URL as is; `/x` under /api/v1; `x` under /api/v1 or,
        on a project-scoped connection, under /api/v1/projects/<project>/."""
        if path.startswith(("http://", "https://")):
            return path
        if path.startswith("/"):
            return self.api_root + path
        if self.project is not None:
            return f"{self.api_root}/projects/{segment(self.project)}/{path}"
        return f"{self.api_root}/{path}"

    def same_origin(self, url: str) -> bool:
        return _origin(url) == _origin(self.url)

    def rebase(self, link: str) -> str:
        """A link the server built (`next`), moved onto the origin this client talks to: a
        server behind a proxy may not know the name it is reached by."""
        parts = urlsplit(link)
        scheme, netloc = _origin(self.url)
        return urlunsplit((scheme, netloc, parts.path, parts.query, parts.fragment))

    def auth_headers(self, url: str) -> dict[str, str]:
        if self.token and self.same_origin(url):
            return {"Authorization": f"Bearer {self.token}"}
        return {}
