"""A pure-Python evaluator of the files filter, written from the documented meaning
(`cloudlet.server.files.filters`), not from its SQL: the hypothesis test checks that both
databases agree with it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

MISSING = object()
BUILTIN = {"id", "name", "type", "parent", "size", "content_type", "version", "created_by",
           "created_on", "updated_on", "md5", "sha256", "etag", "multipart_etag", "tags"}
TIMES = {"created_on", "updated_on"}


def _number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool)


def _equal(a: Any, b: Any) -> bool:
    if _number(a) and _number(b):
        return bool(a == b)
    if type(a) is not type(b):
        return False
    return bool(a == b) if a is None or isinstance(a, bool | str) else False


def _value(node: dict[str, Any], key: str) -> Any:
    if key in BUILTIN:
        value = node.get(key)
        if key in TIMES:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        return MISSING if value is None and key != "tags" else value
    path = key.split(".")
    if path[0] == "metadata" and len(path) > 1:
        path = path[1:]
    value: Any = node["metadata"]
    for part in path:
        if not isinstance(value, dict) or part not in value:
            return MISSING
        value = value[part]
    return value


def _elements(value: Any) -> list[Any]:
    if value is MISSING:
        return []
    return list(value) if isinstance(value, list) else [value]


def _compare(e: Any, op: str, x: Any) -> bool:
    if isinstance(e, datetime) and isinstance(x, str):
        x = datetime.fromisoformat(x.replace("Z", "+00:00"))
    elif not ((_number(e) and _number(x)) or (isinstance(e, str) and isinstance(x, str))):
        return False
    return {"$lt": e < x, "$lte": e <= x, "$gt": e > x, "$gte": e >= x}[op]


def condition(node: dict[str, Any], key: str, op: str, x: Any) -> bool:
    value = _value(node, key)
    if op == "$exists":
        return (value is not MISSING) == x
    if op == "$ne":
        return not condition(node, key, "$eq", x)
    if op == "$nin":
        return not condition(node, key, "$in", x)
    if op == "$in":
        return any(condition(node, key, "$eq", v) for v in x)
    elements = _elements(value)
    if op == "$eq":
        if x is None and value is MISSING:
            return True
        if isinstance(value, datetime):
            return isinstance(x, str) and value == datetime.fromisoformat(
                x.replace("Z", "+00:00"))
        return any(_equal(e, x) for e in elements)
    if op == "$string_contains":
        return any(isinstance(e, str) and x in e for e in elements)
    return any(_compare(e, op, x) for e in elements)


def matches(node: dict[str, Any], doc: dict[str, Any]) -> bool:
    for key, cond in doc.items():
        if key == "$or":
            if not any(matches(node, d) for d in cond):
                return False
        elif key == "$and":
            if not all(matches(node, d) for d in cond):
                return False
        elif isinstance(cond, dict):
            if not all(condition(node, key, op, x) for op, x in cond.items()):
                return False
        elif not condition(node, key, "$eq", cond):
            return False
    return True


def sort_key(node: dict[str, Any], key: str) -> tuple[Any, ...]:
    value = _value(node, key)
    if key in BUILTIN and key != "tags":
        return (0,) if value is MISSING else (1, value)
    if value is MISSING:
        return (0, 0, "")
    if value is None:
        return (1, 0, "")
    if value is False:
        return (2, 0, "")
    if value is True:
        return (3, 0, "")
    if _number(value):
        return (4, value, "")
    if isinstance(value, str):
        return (5, 0, value)
    return (6 if isinstance(value, list) else 7, 0, "")


def ordered(nodes: list[dict[str, Any]], key: str, descending: bool) -> list[int]:
    by_id = sorted(nodes, key=lambda n: n["id"])
    return [n["id"] for n in sorted(by_id, key=lambda n: sort_key(n, key),
                                    reverse=descending)]
