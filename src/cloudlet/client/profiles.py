"""Named connection profiles, so scripts and the CLI need no URL or token in their code.

The config dir is `$CLOUDLET_CONFIG_DIR`, else the platform's user config dir
(`~/.config/cloudlet` on Linux). It holds two TOML files:

- `config.toml`: `active = "name"` and `[profiles.<name>]` tables with `url`, `username`,
  `project`; safe to read, copy or commit.
- `credentials.toml`: `[<name>] token = "…"`, written with mode 0600 because a token is a
  password. Keeping secrets apart means the config can be shared without them.

`CLOUDLET_PROFILE` picks a profile over the active one.
"""

from __future__ import annotations

import os
import tempfile
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import platformdirs
import tomli_w

from cloudlet.client.errors import ConfigError

__all__ = ["Profile", "ProfileStore", "config_dir"]

CONFIG_FILE = "config.toml"
CREDENTIALS_FILE = "credentials.toml"
DEFAULT_PROFILE = "default"


def config_dir() -> Path:
    """Where profiles live: `$CLOUDLET_CONFIG_DIR`, else the user config dir."""
    override = os.environ.get("CLOUDLET_CONFIG_DIR")
    return Path(override) if override else platformdirs.user_config_path("cloudlet")


@dataclass
class Profile:
    """One server and the credentials for it."""

    name: str
    url: str
    username: str | None = None
    project: str | None = None
    token: str | None = None


class ProfileStore:
    """Reads and writes the profiles in one config dir."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory or config_dir()
        self._config = self._read(CONFIG_FILE)
        self._credentials = self._read(CREDENTIALS_FILE)

    @property
    def active_name(self) -> str | None:
        """`CLOUDLET_PROFILE`, else the one `use()` picked last, else None."""
        name = os.environ.get("CLOUDLET_PROFILE") or self._config.get("active")
        return str(name) if name else None

    def names(self) -> list[str]:
        return sorted(self._config.get("profiles", {}))

    def get(self, name: str) -> Profile:
        found = self._config.get("profiles", {}).get(name)
        if found is None:
            known = ", ".join(self.names()) or "none yet; run `cloudlet login`"
            raise ConfigError(f"No profile named {name!r} (profiles: {known}).")
        secret = self._credentials.get(name, {})
        return Profile(
            name=name,
            url=str(found.get("url", "")),
            username=found.get("username"),
            project=found.get("project"),
            token=secret.get("token"),
        )

    def active(self) -> Profile | None:
        """The profile in use, or None when there is none to use."""
        name = self.active_name
        if name is None:
            return None
        return self.get(name)

    def save(self, profile: Profile, *, activate: bool = True) -> None:
        """Write (or replace) a profile and its token; make it active unless told not to."""
        entry = {"url": profile.url, "username": profile.username, "project": profile.project}
        self._config.setdefault("profiles", {})[profile.name] = {
            k: v for k, v in entry.items() if v is not None
        }
        if activate:
            self._config["active"] = profile.name
        if profile.token is None:
            self._credentials.pop(profile.name, None)
        else:
            self._credentials[profile.name] = {"token": profile.token}
        self._write()

    def use(self, name: str) -> Profile:
        """Make `name` the active profile."""
        profile = self.get(name)
        self._config["active"] = name
        self._write()
        return profile

    def _read(self, filename: str) -> dict[str, Any]:
        path = self.directory / filename
        try:
            with path.open("rb") as f:
                return tomllib.load(f)
        except FileNotFoundError:
            return {}
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"Cannot read {path}: {exc}") from exc

    def _write(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_atomic(self.directory / CONFIG_FILE, self._config, mode=0o644)
        _write_atomic(self.directory / CREDENTIALS_FILE, self._credentials, mode=0o600)


def _write_atomic(path: Path, data: dict[str, Any], *, mode: int) -> None:
    """Replace `path` atomically. mkstemp creates the file 0600, so a token is never readable
    by others, not even for a moment; `mode` is applied before the rename."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.chmod(tmp, mode)
        with os.fdopen(fd, "wb") as f:
            tomli_w.dump(data, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
