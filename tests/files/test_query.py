"""The metadata query: every operator on both databases, bad filters, sort and paging, and
a hypothesis check of random filters and sorts against a pure-Python evaluator."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.files.conftest import uploaded
from tests.files.evaluator import matches, ordered
from tests.support.accounts import TestUser, make_user
from tests.support.live import LiveServer

SCALARS: list[Any] = [0, 1, 2, 3, 3.0, 2.5, -1, "x", "y", "xy", "", "Z", "a", "é", True,
                      False, None]
KEYS = ["a", "b", "c.d", "tags", "size", "name"]


def _metadata(rng: random.Random) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for key in ("a", "b"):
        roll = rng.random()
        if roll < 0.55:
            meta[key] = rng.choice(SCALARS)
        elif roll < 0.75:
            meta[key] = rng.sample(SCALARS, rng.randint(0, 3))
    if rng.random() < 0.5:
        meta["c"] = {"d": rng.choice(SCALARS)} if rng.random() < 0.8 else rng.choice(SCALARS)
    return meta


@pytest.fixture(scope="module")
def corpus(server: LiveServer) -> tuple[TestUser, list[dict[str, Any]]]:
    rng = random.Random(5)
    user = make_user(server, "q")
    nodes = []
    for i in range(40):
        tags = rng.sample(["raw", "x", "a", "Z"], rng.randint(0, 2))
        nodes.append(uploaded(user, f"{rng.choice(['run', 'Run', 'été', 'x'])}-{i}.dat",
                              b"#" * rng.randint(0, 6), metadata=_metadata(rng),
                              tags=json.dumps(tags)))
    return user, nodes


def _query(user: TestUser, doc: Any, sort: str | None = None, **params: Any) -> Any:
    with user.client() as c:
        answer = c.get(f"/projects/{user.home_project['id']}/files",
                       params={"filter": json.dumps(doc), "limit": 1000,
                               **({"sort": sort} if sort else {}), **params})
    return answer


def _ids(user: TestUser, doc: Any, sort: str | None = None) -> list[int]:
    answer = _query(user, doc, sort)
    assert answer.status_code == 200, answer.text
    return [n["id"] for n in answer.json()["results"]]


def _expected(nodes: list[dict[str, Any]], doc: dict[str, Any]) -> list[int]:
    return sorted(n["id"] for n in nodes if matches(n, doc))


CASES: list[dict[str, Any]] = [
    {"a": 3}, {"a": {"$eq": 3}}, {"a": "x"}, {"a": None}, {"a": True},
    {"a": {"$ne": 3}}, {"a": {"$lt": 2}}, {"a": {"$lte": 2}}, {"a": {"$gt": 1}},
    {"a": {"$gte": 2.5}}, {"a": {"$gt": "a"}}, {"a": {"$lt": "Z"}},
    {"a": {"$in": [1, "x"]}}, {"a": {"$nin": [1, "x"]}}, {"a": {"$exists": True}},
    {"a": {"$exists": False}}, {"a": {"$string_contains": "x"}},
    {"c.d": {"$gte": 0}}, {"metadata.c.d": "y"}, {"c": {"$exists": True}},
    {"tags": "raw"}, {"tags": {"$in": ["x", "Z"]}}, {"tags": {"$nin": ["raw"]}},
    {"size": {"$gt": 3}}, {"size": {"$lte": 0}}, {"name": {"$string_contains": "Run"}},
    {"name": {"$gte": "r"}}, {"type": "file", "size": {"$gte": 2, "$lt": 5}},
    {"$or": [{"a": 1}, {"b": {"$exists": False}}]},
    {"$and": [{"a": {"$exists": True}}, {"$or": [{"b": "x"}, {"b": {"$gt": 1}}]}]},
    {"created_on": {"$gt": "2000-01-01T00:00:00Z"}},
    {"updated_on": {"$lt": "2000-01-01T00:00:00+00:00"}},
]


@pytest.mark.parametrize("doc", CASES, ids=[json.dumps(c) for c in CASES])
def test_operators_match_the_evaluator(corpus: tuple[TestUser, list[dict[str, Any]]],
                                       doc: dict[str, Any]) -> None:
    user, nodes = corpus
    assert _ids(user, doc) == sorted(_ids(user, doc))  # default order is by id
    assert _ids(user, doc) == _expected(nodes, doc)


def test_the_cases_are_not_trivial(corpus: tuple[TestUser, list[dict[str, Any]]]) -> None:
    _, nodes = corpus
    sizes = [len(_expected(nodes, doc)) for doc in CASES]
    assert sum(0 < n < len(nodes) for n in sizes) >= len(CASES) - 4


@pytest.mark.parametrize("key", ["a", "b", "c.d", "size", "name", "tags"])
@pytest.mark.parametrize("descending", [False, True])
def test_sorting_is_the_same_everywhere(corpus: tuple[TestUser, list[dict[str, Any]]],
                                        key: str, descending: bool) -> None:
    user, nodes = corpus
    spec = ("-" if descending else "") + key
    assert _ids(user, {}, spec) == ordered(nodes, key, descending)


def test_paging_and_counting(corpus: tuple[TestUser, list[dict[str, Any]]]) -> None:
    user, nodes = corpus
    everything = _ids(user, {}, "-size")
    page = _query(user, {}, "-size", limit=7, offset=7).json()
    assert page["count"] == len(nodes)
    assert [n["id"] for n in page["results"]] == everything[7:14]
    assert "offset=14" in page["next"] and "offset=0" in page["previous"]
    with user.client() as c:
        counted = c.post(f"/projects/{user.home_project['id']}/files/query",
                         json={"filter": {"a": {"$exists": True}}, "limit": 0}).json()
    assert counted["count"] == len(_expected(nodes, {"a": {"$exists": True}}))
    assert counted["results"] == []


@pytest.mark.parametrize(("doc", "needle"), [
    ({"a": {"$regex": "x"}}, "'$regex'"),
    ({"$nor": [{"a": 1}]}, "'$nor'"),
    ({"a": {"$gt": [1]}}, "gt"),
    ({"a": {"$in": 3}}, "in"),
    ({"a": {"$exists": "yes"}}, "exists"),
    ({"a": {"b": 1}}, "dotted"),
    ({"created_on": {"$gt": "yesterday"}}, "ISO 8601"),
    ([1, 2], "JSON object"),
])
def test_bad_filters_are_400_naming_the_problem(
        corpus: tuple[TestUser, list[dict[str, Any]]], doc: Any, needle: str) -> None:
    user, _ = corpus
    answer = _query(user, doc)
    assert answer.status_code == 400, answer.text
    assert needle in answer.json()["detail"]


def test_integers_past_64_bits_are_refused(corpus: tuple[TestUser, list[dict[str, Any]]]
                                           ) -> None:
    user, _ = corpus
    with user.client() as c:
        answer = c.post(f"/projects/{user.home_project['id']}/files/query",
                        json={"filter": {"a": {"$in": [1, 2**70]}}})
    assert answer.status_code == 400 and "64 bits" in answer.json()["detail"]


def test_a_filter_that_is_not_json_is_400(corpus: tuple[TestUser, list[dict[str, Any]]]
                                          ) -> None:
    user, _ = corpus
    with user.client() as c:
        answer = c.get(f"/projects/{user.home_project['id']}/files",
                       params={"filter": "{nope"})
    assert answer.status_code == 400 and "JSON" in answer.json()["detail"]


# --- random filters -------------------------------------------------------------------------

def operands(op: str) -> st.SearchStrategy[Any]:
    scalar = st.sampled_from(SCALARS)
    if op in ("$in", "$nin"):
        return st.lists(scalar, max_size=3)
    if op == "$exists":
        return st.booleans()
    if op == "$string_contains":
        return st.sampled_from(["x", "y", "", "un", "é"])
    if op in ("$lt", "$lte", "$gt", "$gte"):
        return st.sampled_from([0, 1, 2, 2.5, 3, -1, "a", "x", "Z", "y", "é", ""])
    return scalar


@st.composite
def conditions(draw: st.DrawFn) -> tuple[str, Any]:
    key = draw(st.sampled_from(KEYS))
    op = draw(st.sampled_from(["$eq", "$ne", "$lt", "$lte", "$gt", "$gte", "$in", "$nin",
                               "$exists", "$string_contains", "bare"]))
    if op == "bare":
        return key, draw(st.sampled_from(SCALARS))
    return key, {op: draw(operands(op))}


def documents(depth: int = 0) -> st.SearchStrategy[dict[str, Any]]:
    plain = st.lists(conditions(), min_size=0, max_size=3).map(dict)
    if depth >= 2:
        return plain
    return st.tuples(plain, st.lists(documents(depth + 1), min_size=1, max_size=2),
                     st.booleans()).map(
        lambda t: {**t[0], "$or": t[1]} if t[2] else t[0])


@pytest.fixture
def hypothesis_corpus(corpus: tuple[TestUser, list[dict[str, Any]]]
                      ) -> Iterator[tuple[TestUser, list[dict[str, Any]]]]:
    yield corpus


def test_random_filters_agree_with_the_evaluator(
        hypothesis_corpus: tuple[TestUser, list[dict[str, Any]]]) -> None:
    user, nodes = hypothesis_corpus

    @settings(max_examples=150, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(documents())
    def check(doc: dict[str, Any]) -> None:
        assert _ids(user, doc) == _expected(nodes, doc), doc

    check()
