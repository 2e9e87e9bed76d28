"""Filters, lastn, order and downsampling over HTTP against a brute-force Python
computation, on data and parameters hypothesis picks (each example in a fresh project)."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.accounts import TestUser

US = 1_000_000
AGGS = ("mean", "min", "max", "sum", "count", "first", "last")
SECONDS = st.integers(0, 400)
VALUES = st.integers(-20, 20).map(lambda v: v / 4)
SERIES = st.dictionaries(SECONDS, VALUES, min_size=1, max_size=40)
BOUND = st.none() | SECONDS


@st.composite
def queries(draw: Any) -> dict[str, Any]:
    params: dict[str, Any] = {}
    start, end = draw(BOUND), draw(BOUND)
    if start is not None and end is not None and start > end:
        start, end = end, start
    for name, value in (("start", start), ("end", end)):
        if value is not None:
            params[name] = value
    for name in draw(st.sets(st.sampled_from(["gt", "gte", "lt", "lte", "eq"]), max_size=2)):
        params[name] = draw(VALUES)
    if draw(st.booleans()):
        params["lastn"] = draw(st.integers(1, 8))
    if draw(st.booleans()):
        params["every"] = f"{draw(st.sampled_from([7, 30, 60, 100]))}s"
        params["agg"] = draw(st.sampled_from(AGGS))
    params["order"] = draw(st.sampled_from(["asc", "desc"]))
    return params


TESTS = {"gt": lambda v, b: v > b, "gte": lambda v, b: v >= b, "lt": lambda v, b: v < b,
         "lte": lambda v, b: v <= b, "eq": lambda v, b: v == b}


def brute(data: list[dict[int, float]], ids: list[int], gids: list[str],
          params: dict[str, Any]) -> list[tuple[str, int, float, int | None]]:
    rows: list[tuple[int, int, str, int, float, int | None]] = []
    for sid, gid, points in zip(ids, gids, data, strict=True):
        kept = sorted((t * US, v) for t, v in points.items()
                      if params.get("start", -1) <= t <= params.get("end", 10**9)
                      and all(TESTS[k](v, params[k]) for k in TESTS if k in params))
        out: list[tuple[int, float, int | None]]
        if "every" in params:
            width = int(params["every"][:-1]) * US
            buckets: dict[int, list[float]] = {}
            for t, v in kept:
                buckets.setdefault(t // width * width, []).append(v)
            agg = {"mean": lambda x: sum(x) / len(x), "min": min, "max": max, "sum": sum,
                   "count": len, "first": lambda x: x[0], "last": lambda x: x[-1]}[
                params["agg"]]
            out = [(b, float(agg(vs)), len(vs)) for b, vs in sorted(buckets.items())]
        else:
            out = [(t, v, None) for t, v in kept]
        if "lastn" in params:
            out = out[-params["lastn"]:]
        rows += [(t, sid, gid, t, v, c) for t, v, c in out]
    rows.sort(key=lambda r: (r[0], r[1]), reverse=params["order"] == "desc")
    return [(gid, t, v, c) for _, _, gid, t, v, c in rows]


@settings(max_examples=25, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.lists(SERIES, min_size=1, max_size=3), params=queries())
def test_queries_match_brute_force(user: TestUser, data: list[dict[int, float]],
                                   params: dict[str, Any]) -> None:
    with user.client() as c:
        project = c.post("/projects", json={"name": "brute"}).json()["id"]
        for i, points in enumerate(data):
            c.post(f"/projects/{project}/points", params={"precision": "s"}, json={
                "device": f"d{i}", "series": {"v": [[t, v] for t, v in points.items()]}},
                   ).raise_for_status()
        streams = c.get(f"/projects/{project}/streams").json()["results"]
        by_device = {s["device_key"]: s for s in streams}
        ordered = [by_device[f"d{i}"] for i in range(len(data))]
        query = {**params, "precision": "s"}
        answer = c.get(f"/projects/{project}/points", params={**query, "format": "ndjson"})
        assert answer.status_code == 200, answer.text
        rows = [json.loads(line) for line in answer.text.splitlines()]
        page = c.get(f"/projects/{project}/points", params={**query, "limit": 3}).json()
    want = brute(data, [s["id"] for s in ordered], [s["gid"] for s in ordered], params)
    got = [(r["stream"], r["time"], r["value"], r.get("count")) for r in rows]
    assert len(got) == len(want)
    for (gs, gt, gv, gc), (ws, wt, wv, wc) in zip(got, want, strict=True):
        assert (gs, gt, gc) == (ws, wt, wc) and abs(gv - wv) < 1e-9
    assert page["count"] == len(want)
    assert [(r["stream"], r["time"]) for r in page["results"]] == [(s, t) for s, t, _, _ in
                                                                  want[:3]]
