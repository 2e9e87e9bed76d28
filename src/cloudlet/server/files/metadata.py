"""User metadata and tags, kept apart from the built-in fields.

Built-in field names (`RESERVED`) can't be metadata keys: a filter's top-level keys mean the
built-in field when they name one, and a face that receives flat objects (RinoCloud sends
`id`, `etag`, `versions`… beside the user's keys) splits them with `split_builtins`.
"""

from __future__ import annotations

from typing import Any

import orjson

from cloudlet.server.core.errors import Invalid
from cloudlet.server.files.filters import BUILTINS

RESERVED = frozenset(BUILTINS) | {"metadata", "versions", "project", "project_id", "path"}
MAX_METADATA = 256 * 1024
MAX_DEPTH = 32
MAX_TAGS = 100
MAX_TAG = 100


def check_metadata(metadata: Any) -> dict[str, Any]:
    if not isinstance(metadata, dict):
        raise Invalid("metadata is a JSON object.")
    forged = sorted(k for k in metadata if k in RESERVED)
    if forged:
        raise Invalid(f"Metadata can't use the built-in field names {', '.join(forged)}.",
                      fields=forged)
    if any(not isinstance(k, str) or not k for k in metadata):
        raise Invalid("Metadata keys are non-empty strings.")
    try:
        size = len(orjson.dumps(metadata))
    except (TypeError, orjson.JSONEncodeError):
        raise Invalid("metadata must be plain JSON.") from None
    if size > MAX_METADATA:
        raise Invalid(f"metadata is {size} bytes as JSON; the limit is {MAX_METADATA}.")
    if _depth(metadata) > MAX_DEPTH:
        raise Invalid(f"metadata nests deeper than {MAX_DEPTH} levels.")
    return metadata


def check_tags(tags: Any) -> list[str]:
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise Invalid("tags is a list of strings.")
    if len(tags) > MAX_TAGS or any(not t or len(t) > MAX_TAG for t in tags):
        raise Invalid(f"At most {MAX_TAGS} tags, each 1 to {MAX_TAG} characters.")
    return list(dict.fromkeys(tags))


def split_builtins(document: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A flat object → (its built-in fields, the rest as user metadata)."""
    builtins = {k: v for k, v in document.items() if k in RESERVED}
    return builtins, {k: v for k, v in document.items() if k not in RESERVED}


def _depth(value: Any, level: int = 0) -> int:
    if level > MAX_DEPTH:
        return level
    if isinstance(value, dict):
        return max((_depth(v, level + 1) for v in value.values()), default=level + 1)
    if isinstance(value, list):
        return max((_depth(v, level + 1) for v in value), default=level + 1)
    return level
