"""RinoCloud objects both ways: a flat request body → what the files service takes, a file or
folder → the object the clients read, and a RinoCloud query → the files service's filter.

RinoCloud objects are flat on the way in: the `rinocloud` package sends every attribute of
an `Object` (`id`, `created_on`, `updated_on`, `name`, `etag`, `versions`, `parent` and the
user's keys side by side). The built-in fields are split off (`split_builtins`): the ones
clients echo back (RinoCloud's object fields) are dropped, `name`/`parent`/`tags`/`metadata`
are used, and any other built-in name (a Cloudlet field such as `version` or `md5`) is
refused, naming it, rather than lost.
On the way out user keys are under `metadata`, which the package merges back in.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cloudlet.server.core.errors import Invalid
from cloudlet.server.faces.rinocloud.wire import Fields, optional_id, tags
from cloudlet.server.files.filters import BUILTINS
from cloudlet.server.files.metadata import split_builtins

# fields of RinoCloud's own objects: what clients echo back (the package sends the first
# five of every Object; a full answer sent back has them all) is never metadata
ECHOED = frozenset({"id", "created_on", "updated_on", "etag", "versions", "type", "size",
                    "project"})
USED = frozenset({"name", "parent", "tags", "metadata"})
# sent by clients but never metadata: a Collection's absolute local path (never acted on),
# its child list, and get_metadata's flag (metadata is never over the 300 kB it cut at)
CLIENT_SIDE = frozenset({"filepath", "objects", "truncate_metadata"})
# Operators the package leaves in the key (the README documents `neq`, the package doesn't
# strip it): `x__neq=1` arrives as {"x__neq": 1}.
KEY_OPERATORS = {"neq": "$ne"}
# No bytes, no parts: `Object.calculate_etag()` of an empty file.
EMPTY_ETAG = hashlib.md5(b"").hexdigest() + "-0"


@dataclass(frozen=True)
class Body:
    """A create or update request, read."""

    id: int | None
    name: str | None
    parent: int | None  # None: the top level, or not given
    tags: list[str] | None
    metadata: dict[str, Any]  # the user's flat keys, with an explicit `metadata` object
    explicit: bool  # a `metadata` object was sent (an update then replaces)


def read_body(fields: Fields) -> Body:
    doc = {k: v for k, v in fields.items() if k not in CLIENT_SIDE}
    builtins, user = split_builtins(doc)
    refused = sorted(set(builtins) - ECHOED - USED)
    if refused:
        raise Invalid(f"{', '.join(refused)}: built-in field names of Cloudlet objects, so "
                      "not usable as metadata keys; rename them.", fields=refused)
    explicit = builtins.get("metadata")
    if explicit is not None and not isinstance(explicit, dict):
        raise Invalid("metadata is a JSON object of keys and values.")
    name = builtins.get("name")
    if name is not None and not isinstance(name, str):
        raise Invalid(f"name is text, not {name!r}.")
    return Body(
        id=optional_id(builtins.get("id"), "id"), name=name or None,
        parent=optional_id(builtins.get("parent"), "parent"),
        tags=tags(builtins.get("tags")), metadata={**(explicit or {}), **user},
        explicit=explicit is not None,
    )


# --- answers --------------------------------------------------------------------------------

def when(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def etag(node: dict[str, Any]) -> str | None:
    if node["type"] != "file":
        return None
    return EMPTY_ETAG if node["size"] == 0 else node["multipart_etag"]


def version(v: dict[str, Any]) -> dict[str, Any]:
    return {"version": v["version"], "name": v["name"], "size": v["size"],
            "etag": EMPTY_ETAG if v["size"] == 0 else v["multipart_etag"],
            "created_on": when(v["created_on"]), "replaced_on": when(v["replaced_on"])}


def rino_object(node: dict[str, Any], root_id: int | None,
                versions: list[dict[str, Any]]) -> dict[str, Any]:
    """A file or folder as RinoCloud answered: the top-level folder is `parent: null`."""
    return {
        "id": node["id"], "name": node["name"], "type": node["type"], "size": node["size"],
        "parent": None if node["parent"] == root_id else node["parent"],
        "created_on": when(node["created_on"]), "updated_on": when(node["updated_on"]),
        "etag": etag(node), "versions": [version(v) for v in versions],
        "metadata": node["metadata"], "tags": node["tags"], "project": node["project_id"],
    }


# --- queries ----------------------------------------------------------------------------------

def translate_query(doc: Any, root_id: int | None) -> Any:
    """The package's query document → the files filter: `x__y` reaches into nested
    metadata (`x.y`), a left-over `x__neq` is `$ne`, `etag` means the multipart etag this
    face shows, and `parent: null` is the top level. Anything else passes unchanged, so the
    files filter's own errors (an unknown operator, 400) name what was sent."""
    if not isinstance(doc, dict):
        return doc
    out: dict[str, Any] = {}
    extra: list[dict[str, Any]] = []
    for key, cond in doc.items():
        if key in ("$or", "$and") and isinstance(cond, list):
            value: Any = [translate_query(d, root_id) for d in cond]
            name = key
        elif key.startswith("$"):
            value, name = cond, key
        else:
            name, op = field_name(key)
            value = {op: cond} if op else cond
            if name == "parent":
                value = _parent(value, root_id)
        if name in out:  # `x` and `x__neq` both given: both must hold
            extra.append({name: value})
        else:
            out[name] = value
    return {"$and": [out, *extra]} if extra else out


def field_name(key: str) -> tuple[str, str | None]:
    """A RinoCloud key → (the files filter's field, an operator left in the key)."""
    parts = key.split("__")
    op = None
    if len(parts) > 1 and parts[-1] in KEY_OPERATORS:
        op = KEY_OPERATORS[parts.pop()]
    if all(parts):
        key = ".".join(parts)
    return ("multipart_etag" if key == "etag" else key), op


def translate_sort(sort: Any) -> tuple[str | None, list[str]]:
    """`x`, `-x` (or `a,-b`) → (the files sort, the metadata keys sorted on): RinoCloud
    returned only objects where a sorted-on value exists."""
    if sort is None or sort == "":
        return None, []
    if not isinstance(sort, str):
        raise Invalid(f"sort is a field name (\"-x\" for descending), not {sort!r}.")
    keys, present = [], []
    for raw in sort.split(","):
        item = raw.strip()
        if not item:
            continue
        sign = "-" if item.startswith("-") else ""
        name, _ = field_name(item.lstrip("-+"))
        keys.append(sign + name)
        if name.split(".")[0] not in BUILTINS or name.startswith("metadata."):
            present.append(name)
    return ",".join(keys) or None, present


def _parent(cond: Any, root_id: int | None) -> Any:
    def one(v: Any) -> Any:
        return root_id if v is None else v

    if isinstance(cond, dict):
        return {op: [one(v) for v in arg] if isinstance(arg, list) else one(arg)
                for op, arg in cond.items()}
    return one(cond)
