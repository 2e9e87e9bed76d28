"""Writing points in every form, idempotent re-sends, atomic refusals, every time unit."""

from __future__ import annotations

import gzip

from tests.timeseries.conftest import Project

US = 1_000_000


def test_series_form_writes_and_reads_back(project: Project) -> None:
    answer = project.post({"device": "d1", "series": {"temp": [[1000, 20.5], [2000, 21.0]],
                                                      "hum": [[1000, 40]]}}, precision="ms")
    assert answer.status_code == 200, answer.text
    assert answer.json()["points"] == 3
    assert answer.json()["devices_registered"] == ["d1"]
    assert project.points("d1", "temp") == [[1000_000, 20.5], [2000_000, 21.0]]
    assert project.points("d1", "hum") == [[1000_000, 40.0]]


def test_resending_a_batch_never_duplicates(project: Project) -> None:
    body = {"device": "d1", "series": {"temp": [[t, t / 10] for t in range(0, 5000, 100)]}}
    for _ in range(3):
        assert project.post(body, precision="s").status_code == 200
    got = project.points("d1", "temp")
    assert len(got) == 50
    assert got[0] == [0, 0.0] and got[-1] == [4900 * US, 490.0]


def test_overwrites_and_out_of_order_points_newest_wins(project: Project) -> None:
    project.post({"device": "d", "series": {"x": [[10, 1], [20, 2], [30, 3]]}}, precision="s")
    project.post({"device": "d", "series": {"x": [[5, 0.5], [20, 22], [25, 2.5]]}},
                 precision="s")
    project.post({"device": "d", "series": {"x": [[20, 222], [40, 4]]}}, precision="s")
    expected = [[5 * US, 0.5], [10 * US, 1.0], [20 * US, 222.0], [25 * US, 2.5],
                [30 * US, 3.0], [40 * US, 4.0]]
    assert project.points("d", "x") == expected
    with project.client() as c:
        assert c.post("/_debug/timeseries/compact").status_code == 200
        stream_id = project.stream("d", "x")["id"]
        stats = c.get(f"/_debug/timeseries/stats/{stream_id}").json()
    assert stats["head"] == 0 and stats["chunks"] == 1
    assert project.points("d", "x") == expected


def test_range_ends_are_inclusive(project: Project) -> None:
    project.post({"device": "d", "series": {"x": [[t, t] for t in range(10)]}}, precision="s")
    got = project.points("d", "x", start="2000", end="5000")  # epoch ms by default
    assert [p[0] // US for p in got] == [2, 3, 4, 5]
    got = project.points("d", "x", start="1970-01-01T00:00:03Z", end="1970-01-01T00:00:04Z")
    assert [p[0] // US for p in got] == [3, 4]


def test_every_time_unit(project: Project) -> None:
    moment = 1_700_000_000  # seconds
    forms = {"s": moment, "ms": moment * 1000, "us": moment * US, "ns": moment * US * 1000,
             "sec": moment, "msec": moment * 1000, "usec": moment * US}
    for unit, stamp in forms.items():
        assert project.post({"device": "d", "series": {unit: [[stamp, 1]]}},
                            precision=unit).status_code == 200
    iso = project.post({"device": "d", "series": {"iso": [["2023-11-14T22:13:20Z", 1]],
                                                  "iso_offset": [["2023-11-14T23:13:20+01:00",
                                                                  1]]}})
    assert iso.status_code == 200, iso.text
    fractional = project.post({"device": "d", "series": {"frac": [[moment + 0.25, 1]]}},
                              precision="s")
    assert fractional.status_code == 200
    for unit in [*forms, "iso", "iso_offset"]:
        assert project.points("d", unit) == [[moment * US, 1.0]], unit
    assert project.points("d", "frac") == [[moment * US + 250_000, 1.0]]
    # a unit in the body (iobeam's timefmt) works too
    assert project.post({"device": "d", "timefmt": "msec", "series": {"tf": [[5, 1]]}}
                        ).status_code == 200
    assert project.points("d", "tf") == [[5000, 1.0]]


def test_integer_times_need_a_unit(project: Project) -> None:
    answer = project.post({"device": "d", "series": {"x": [[1, 1]]}})
    assert answer.status_code == 400
    assert "precision" in answer.json()["detail"]
    assert project.post({"device": "d", "series": {"x": [[1, 1]]}},
                        precision="fortnights").status_code == 400


def test_bad_rows_are_named_and_nothing_is_written(project: Project) -> None:
    body = {"device": "atomic", "series": {
        "good": [[1, 1.0], [2, 2.0]],
        "bad": [[1, "abc"], [2, None], [3, True], [4, [5]]],
    }}
    answer = project.post(body, precision="s")
    assert answer.status_code == 400
    problem = answer.json()
    assert "Nothing was written" in problem["detail"]
    wheres = [e["where"] for e in problem["errors"]]
    assert "series 'bad' row 0" in wheres
    assert "series 'bad' row 3" in wheres
    assert "series 'bad' row 1" not in wheres  # null: no point, not an error
    assert "series 'bad' row 2" not in wheres  # booleans are stored as 1 and 0
    # out-of-range and malformed timestamps
    answer = project.post({"device": "atomic", "series": {"t": [[10**12, 1], ["soon", 2]]}},
                          precision="s")
    assert answer.status_code == 400
    assert len(answer.json()["errors"]) == 2
    # errors come in body order, whichever check found them; the first 20 of them
    mixed = [[i, "x" if i % 2 else 1] if i != 4 else ["soon", 1] for i in range(60)]
    answer = project.post({"device": "atomic", "series": {"a": [[1, "x"]], "m": mixed}},
                          precision="s")
    wheres = [e["where"] for e in answer.json()["errors"]]
    assert wheres == ["series 'a' row 0"] + [f"series 'm' row {i}" for i in
                                              [1, 3, 4, 5, *range(7, 39, 2)]][:19]
    assert "(and 29 more)" in answer.json()["detail"]
    with project.client() as c:
        # not JSON (but Python's json.dumps writes them), and infinite: refused by row
        for raw in (b"NaN", b"Infinity", b"-Infinity", b"1e400"):
            answer = c.post(f"/projects/{project.id}/points", params={"precision": "s"},
                            content=b'{"device": "atomic", "series": {"n": [[1, 2], [2, %s]]}}'
                            % raw, headers={"content-type": "application/json"})
            assert answer.status_code == 400, raw
            assert [e["where"] for e in answer.json()["errors"]] == ["series 'n' row 1"], raw
        broken = c.post(f"/projects/{project.id}/points", content=b'{"device": "atomic", "s',
                        headers={"content-type": "application/json"})
        assert broken.status_code == 400 and "not valid JSON" in broken.json()["detail"]
    assert project.streams() == []
    with project.client() as c:
        assert c.get(f"/projects/{project.id}/devices").json()["count"] == 0


def test_reserved_series_names_are_refused(project: Project) -> None:
    for name in ("time", "TIME", "time_offset", "All"):
        answer = project.post({"device": "d", "series": {name: [[1, 1]]}}, precision="s")
        assert answer.status_code == 400, name
        assert "reserved" in answer.json()["detail"]
    answer = project.lines("d Time=1 1\n")
    assert answer.status_code == 400


def test_table_form_with_nulls(project: Project) -> None:
    body = {"device": "tbl", "fields": ["time", "a", "b"], "timefmt": "usec",
            "data": [[1, 1.5, None], [2, None, 2.5], [3, 3, 3]]}
    assert project.post(body).status_code == 200
    assert project.points("tbl", "a") == [[1, 1.5], [3, 3.0]]
    assert project.points("tbl", "b") == [[2, 2.5], [3, 3.0]]
    bad = project.post({"device": "tbl", "fields": ["time", "a"], "data": [[1, 2, 3]]},
                       precision="us")
    assert bad.status_code == 400
    reserved = project.post({"device": "tbl", "fields": ["time", "all"], "data": [[1, 2]]},
                            precision="us")
    assert reserved.status_code == 400


def test_columnar_devices_and_list_forms(project: Project) -> None:
    body = {"precision": "ms", "devices": {
        "c1": {"x": {"time": [1, 2, 3], "value": [1, 2, 3]}},
        "c2": {"y": {"time": [1], "value": [9]}}}}
    assert project.post(body).status_code == 200
    assert project.points("c1", "x") == [[1000, 1.0], [2000, 2.0], [3000, 3.0]]
    gid = project.stream("c2", "y")["gid"]
    items = [{"stream": gid, "timestamp": 2, "value": 10},
             {"device": "c1", "series": "x", "timestamp": 4, "value": 4}]
    assert project.post(items, precision="ms").status_code == 200
    assert project.points("c2", "y") == [[1000, 9.0], [2000, 10.0]]
    assert project.points("c1", "x")[-1] == [4000, 4.0]
    unknown = project.post([{"stream": gid.replace("--5", "--6"), "timestamp": 1, "value": 1}],
                           precision="ms")
    assert unknown.status_code == 404


def test_csv_upload_and_gzip(project: Project) -> None:
    text = "time,temp,hum\n2024-01-01T00:00:00Z,1.5,\n2024-01-01T00:00:01Z,2.5,40\n"
    with project.client() as c:
        answer = c.post(f"/projects/{project.id}/points", params={"device": "csv"},
                        content=gzip.compress(text.encode()),
                        headers={"content-type": "text/csv", "content-encoding": "gzip"})
        assert answer.status_code == 200, answer.text
        bad = c.post(f"/projects/{project.id}/points", params={"device": "csv"},
                     content=b"time,temp\n2024-01-01T00:00:02Z,warm\n",
                     headers={"content-type": "text/csv"})
        assert bad.status_code == 400 and "warm" in bad.json()["detail"]
        corrupt = c.post(f"/projects/{project.id}/points", content=b"\x1f\x8bnot gzip",
                         headers={"content-type": "application/json",
                                  "content-encoding": "gzip"})
        assert corrupt.status_code == 400
    base = 1_704_067_200 * US
    assert project.points("csv", "temp") == [[base, 1.5], [base + US, 2.5]]
    assert project.points("csv", "hum") == [[base + US, 40.0]]


def test_writes_beyond_the_json_limit_are_accepted(project: Project) -> None:
    rows = [[t, t * 0.5] for t in range(150_000)]  # ~3 MB of JSON, over the 1 MiB cap
    answer = project.post({"device": "big", "series": {"x": rows}}, precision="ms")
    assert answer.status_code == 200, answer.text[:300]
    assert answer.json()["points"] == 150_000
    got = project.points("big", "x")
    assert len(got) == 150_000
    assert got[-1] == [149_999_000, 149_999 * 0.5]
