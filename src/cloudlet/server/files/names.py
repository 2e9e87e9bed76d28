"""Node names and paths: what a name may be, and the conflict policies.

A name is 1-255 characters, without `/` or control characters (NUL, newlines…), and not
`.` or `..`; it is only ever a
database value (storage keys are made by the blob store), so nothing a user names reaches
the filesystem.

Conflict policies, for a name already taken in the folder: `fail` (409), `rename` (the new
node takes `name (1)`), `overwrite` (a file's content is replaced, the old one kept as a
version; an existing folder is used; the other kind is a 409), and `overwrite_or_rename`
(as `overwrite`, but where the name holds the other kind the new node is renamed): never a
conflict, for clients that re-run the same uploads.
"""

from __future__ import annotations

import re
from typing import Literal

from cloudlet.server.core.errors import Invalid

OnConflict = Literal["fail", "rename", "overwrite", "overwrite_or_rename"]
POLICIES = ("fail", "rename", "overwrite", "overwrite_or_rename")
OVERWRITING = ("overwrite", "overwrite_or_rename")  # the policies that replace a file
RENAMING = ("rename", "overwrite_or_rename")  # those that number a name (if not replaced)
MAX_NAME = 255
MAX_DEPTH = 64
_NUMBERED = re.compile(r"^(?P<stem>.*) \((?P<n>\d+)\)$")


def check_name(name: str) -> str:
    if not isinstance(name, str) or not name or len(name) > MAX_NAME:
        raise Invalid(f"A name is 1 to {MAX_NAME} characters.")
    if "/" in name or any(ord(c) < 32 or ord(c) == 127 for c in name):
        raise Invalid(f"A name can't contain '/' or control characters: {name!r}.")
    if name in (".", "..") or name != name.strip() and not name.strip():
        raise Invalid(f"{name!r} is not a usable name.")
    return name


def check_policy(policy: str | None) -> OnConflict:
    policy = policy or "fail"
    if policy not in POLICIES:
        raise Invalid(f"on_conflict is one of {', '.join(POLICIES)}, not {policy!r}.")
    return policy  # type: ignore[return-value]


def split_path(path: str) -> list[str]:
    """`/a/b/c` (or `a/b/c`) → ["a", "b", "c"]; `/` → []."""
    parts = [p for p in path.split("/") if p]
    if len(parts) > MAX_DEPTH:
        raise Invalid(f"Paths are at most {MAX_DEPTH} levels deep.")
    return [check_name(p) for p in parts]


def numbered(name: str, n: int) -> str:
    """`data.csv`, 2 → `data (2).csv` (also from `data (1).csv`); the number goes before
    the last extension, or at the end of a name without one."""
    stem, dot, ext = name.rpartition(".")
    if not dot or not stem:
        stem, ext = name, ""
    found = _NUMBERED.match(stem)
    if found:
        stem = found.group("stem")
    candidate = f"{stem} ({n})" + (f".{ext}" if ext else "")
    if len(candidate) > MAX_NAME:
        keep = MAX_NAME - (len(candidate) - len(stem))
        candidate = f"{stem[:keep]} ({n})" + (f".{ext}" if ext else "")
    return candidate
