"""iobeam bodies ↔ Cloudlet's own shapes: import bodies become the native ingest documents
(parsed by the one ingest parser), and tokens and devices are answered as iobeam shows them."""

from __future__ import annotations

from typing import Any

from cloudlet.server.core.errors import Invalid
from cloudlet.server.core.principal import SCOPES
from cloudlet.server.faces.iobeam import wire


def import_document(body: dict[str, Any], *, table: bool) -> dict[str, Any]:
    """`sources` of an import → the native table form (`fmt=table`: `{fields, data}`, null
    cells are no point) or the native columnar series form (`[{name, data: [{time,
    value}]}]`), with the body's `timefmt` (iobeam's default: msec)."""
    sources = body.get("sources")
    timefmt = body.get("timefmt") or "msec"
    if table:
        if not isinstance(sources, dict):
            raise Invalid("With fmt=table, sources must be {\"fields\": [\"time\", …], "
                          "\"data\": [[t, …], …]}.", field="sources")
        return {"fields": sources.get("fields"), "data": sources.get("data"),
                "timefmt": timefmt}
    if not isinstance(sources, list):
        raise Invalid("sources must be a list of {\"name\": series, \"data\": [{\"time\": t, "
                      "\"value\": v}, …]} (or send fmt=table).", field="sources")
    series: dict[str, dict[str, list[Any]]] = {}
    for i, source in enumerate(sources):
        if not isinstance(source, dict) or not isinstance(source.get("data"), list):
            raise Invalid(f"sources[{i}] must be {{\"name\": series, \"data\": [{{\"time\": t, "
                          "\"value\": v}, …]}.", field="sources")
        name = source.get("name")
        if not isinstance(name, str):
            raise Invalid(f"sources[{i}].name must be a series name, not {name!r}.",
                          field="sources")
        columns = series.setdefault(name, {"time": [], "value": []})
        for j, point in enumerate(source["data"]):
            if not isinstance(point, dict) or "time" not in point or "value" not in point:
                raise Invalid(f"sources[{i}].data[{j}] must be {{\"time\": t, \"value\": v}}.",
                              field="sources")
            columns["time"].append(point["time"])
            columns["value"].append(point["value"])
    return {"series": series, "timefmt": timefmt}


def scope_of(read: bool | None, write: bool | None, admin: bool | None) -> str:
    """iobeam's permission flags → a Cloudlet scope, the highest one asked for (each scope
    includes those below it); no flags at all: write, what a device sending data needs."""
    if read is None and write is None and admin is None:
        return "write"
    for scope, asked in (("admin", admin), ("write", write), ("read", read)):
        if asked:
            return scope
    raise Invalid("A token needs at least one of read, write or admin.", field="read")


def token_answer(info: dict[str, Any], token: str) -> dict[str, Any]:
    """What the client reads (`token`) and what the iobeam CLI shows beside it."""
    level = SCOPES.index(info["scope"]) + 1
    return {
        "token": token,
        "expires": wire.expires(info["expires_at"]),
        "project_id": (info["project"] or {}).get("id"),
        "read": level >= 1,
        "write": level >= 2,
        "admin": level >= 3,
    }


def device_answer(device: dict[str, Any]) -> dict[str, Any]:
    """A registered device as `POST /devices` answers it: the key is the iobeam device id."""
    return {
        "device_id": device["key"],
        "device_name": device["label"] or device["key"],
        "project_id": device["project_id"],
        "created": device["created_at"].isoformat(),
    }
