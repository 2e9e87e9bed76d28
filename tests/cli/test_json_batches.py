"""Cutting JSON documents into requests: every part is at most `size` points, in the same
form with the same keys, and the parts put back together are the document."""

from __future__ import annotations

import io
import json
from typing import Any

from cloudlet.cli.json_batches import Part, split_document, split_ndjson


def series_of(parts: list[Part]) -> dict[str, list[Any]]:
    joined: dict[str, list[Any]] = {}
    for part in parts:
        for name, points in part.doc["series"].items():
            if isinstance(points, dict):
                values = points.get("value", points.get("values"))
                points = [list(p) for p in zip(points["time"], values, strict=True)]
            joined.setdefault(name, []).extend(points)
    return joined


def test_parts_are_bounded_and_put_back_together_are_the_document() -> None:
    doc = {"device": "d", "precision": "s", "series": {
        "a": [[t, t] for t in range(13)], "empty": [],
        "b": {"time": list(range(6)), "values": list(range(6))}}}
    whole = {"a": doc["series"]["a"], "empty": [], "b": [[t, t] for t in range(6)]}
    for size in range(1, 21):
        parts = list(split_document(doc, size))
        assert all(p.points <= size for p in parts), size
        assert all({k: v for k, v in p.doc.items() if k != "series"} ==
                   {"device": "d", "precision": "s"} for p in parts)
        assert series_of(parts) == whole, size
        assert sum(p.points for p in parts) == 19
    assert [p.doc for p in split_document(doc, 19)] == [doc]  # small enough: unchanged


def test_table_and_list_forms_are_cut_by_rows_and_items() -> None:
    table = {"device": "d", "fields": ["time", "x"], "data": [[t, t] for t in range(7)]}
    parts = list(split_document(table, 3))
    assert [p.doc["data"] for p in parts] == [table["data"][0:3], table["data"][3:6],
                                              table["data"][6:]]
    assert all(p.doc["fields"] == ["time", "x"] for p in parts)
    assert [p.where for p in parts] == ["rows 1–3 of the document", "rows 4–6 of the document",
                                        "row 7 of the document"]
    items = [{"stream": "s", "timestamp": t, "value": t} for t in range(5)]
    assert [p.doc for p in split_document(items, 2)] == [items[0:2], items[2:4], items[4:]]


def test_ndjson_packs_lines_of_one_frame_and_keeps_others_apart() -> None:
    lines = [{"device": "d", "series": {"t": [[1, 1]]}}, {"device": "d", "series": {"t": [[2, 2]]}},
             {"device": "e", "series": {"t": [[3, 3]]}}, "not a form"]
    stream = io.BytesIO(b"".join(json.dumps(doc).encode() + b"\n" for doc in lines))
    parts = [part for part, _ in split_ndjson(stream, 10)]
    assert [p.doc for p in parts] == [{"device": "d", "series": {"t": [[1, 1], [2, 2]]}},
                                      {"device": "e", "series": {"t": [[3, 3]]}}, "not a form"]
    assert [p.where for p in parts] == ["lines 1–2", "line 3", "line 4"]


def test_ndjson_frames_differing_only_in_json_type_are_kept_apart() -> None:
    lines = [{"device": 1, "series": {"t": [[1, 1]]}}, {"device": True, "series": {"t": [[2, 2]]}}]
    stream = io.BytesIO(b"".join(json.dumps(doc).encode() + b"\n" for doc in lines))
    assert [p.doc for p, _ in split_ndjson(stream, 10)] == lines  # 1 == True in Python
