"""Cloudlet's objects in the shapes IOTile Cloud's serializers gave them (the fields the
client, its report generator and its mock read): slugs are gids (`p--…`, `d--…`, `v--…`,
`s--…`), a bare `gid` drops the letter, and a project is keyed by its UUID.
"""

from __future__ import annotations

from typing import Any

from cloudlet.server.faces.iotile.wire import iso


def bare(gid: str) -> str:
    """`p--0000-0001` → `0000-0001` (IOTile's `gid` fields)."""
    return gid.split("--", 1)[1]


def account(user: dict[str, Any]) -> dict[str, Any]:
    name = " ".join(p for p in (user.get("first_name"), user.get("last_name")) if p)
    return {"id": user["id"], "email": user["email"], "username": user["username"],
            "name": name or user["username"], "slug": user["username"],
            "created_at": iso(user.get("created_at"))}


def org(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "slug": row["slug"], "about": row["about"],
            "created_on": iso(row.get("created_at")), "role": row.get("role")}


def project(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["uuid"], "name": row["name"], "slug": row["gid"], "gid": bare(row["gid"]),
            "org": row["org"], "about": row["description"], "project_template": "",
            "created_on": iso(row["created_at"]), "int_id": row["id"]}


def device(row: dict[str, Any], project_uuid: str) -> dict[str, Any]:
    return {"id": row["id"], "slug": row["gid"], "gid": bare(row["gid"]), "label": row["label"],
            "active": True, "external_id": row["key"] or "", "sg": "", "template": "",
            "project": project_uuid, "project_slug": row["project"], "lat": None, "lon": None,
            "created_on": iso(row["created_at"]), "stream_counts": row.get("stream_count")}


def unit(found: dict[str, Any], direction: str, owner: str) -> dict[str, Any]:
    """A Cloudlet unit (`unit_short`, `unit_full`, `m`, `d`, `o`) with the slug IOTile's
    unit objects carried; `m` and `d` stay integers (the client's MdoHelper asserts it)."""
    name = found["unit_short"] or "unit"
    return {"slug": f"{direction}--{owner}--{name}", "unit_full": found["unit_full"],
            "unit_short": found["unit_short"], "m": int(found["m"]), "d": int(found["d"]),
            "o": float(found["o"]), **({"decimal_places": 2, "derived_units": {}}
                                       if direction == "out" else {})}


def variable(row: dict[str, Any], project_uuid: str) -> dict[str, Any]:
    return {"id": row["id"], "slug": row["gid"], "gid": bare(row["gid"]), "name": row["name"],
            "lid": int(row["lid"], 16), "project": row["project"], "project_id": project_uuid,
            "var_type": "", "input_unit": unit(row["input_unit"], "in", row["name"]),
            "output_unit": unit(row["output_unit"], "out", row["name"]),
            "created_on": iso(row["created_at"])}


def stream(row: dict[str, Any], project_uuid: str, org_slug: str) -> dict[str, Any]:
    out = row["output_unit"]
    return {
        "id": row["id"], "slug": row["gid"], "gid": bare(row["gid"]),
        "project_id": project_uuid, "project": row["project"], "device": row["device"],
        "block": None, "data_label": row["label"] or row["series"],
        "variable": row["variable"], "var_type": "", "var_name": row["series"],
        "var_lid": int(row["lid"], 16),
        "input_unit": unit(row["input_unit"], "in", row["series"]),
        "output_unit": unit(out, "out", row["series"]),
        "derived_stream": None, "raw_value_format": "<L", "mdo_type": "S", "mdo_label": "",
        "multiplication_factor": int(out["m"]), "division_factor": int(out["d"]),
        "offset": float(out["o"]), "org": org_slug, "created_on": iso(row["created_at"]),
        "last_timestamp": iso(row["last_timestamp"]), "enabled": True,
    }


def event(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "stream": row["stream"], "timestamp": iso(row["timestamp"]),
            "has_raw_data": row["file"] is not None, "file": row["file"],
            "extra_data": row["extra_data"], "created_on": iso(row.get("created_at"))}


def report(node: dict[str, Any]) -> dict[str, Any]:
    meta = node.get("metadata") or {}
    return {"id": node["id"], "file": node["id"], "name": node["name"],
            "size": node.get("size"), "timestamp": meta.get("timestamp"),
            "created_on": iso(node.get("created_on")),
            "count": 0}
