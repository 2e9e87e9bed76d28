"""A POST retried with the same Idempotency-Key runs once and replays its answer."""

from __future__ import annotations

from tests.support.accounts import TestUser


def test_replay_runs_once(user: TestUser) -> None:
    with user.client() as c:
        before = c.get("/projects").json()["count"]
        headers = {"Idempotency-Key": "create-field-trial-1"}
        first = c.post("/projects", json={"name": "trial"}, headers=headers)
        again = c.post("/projects", json={"name": "trial"}, headers=headers)
        assert first.status_code == again.status_code == 201
        assert again.json() == first.json()
        assert again.headers["Idempotent-Replayed"] == "true"
        assert "Idempotent-Replayed" not in first.headers
        assert c.get("/projects").json()["count"] == before + 1


def test_same_key_for_a_different_request_is_refused(user: TestUser) -> None:
    with user.client() as c:
        headers = {"Idempotency-Key": "k-2"}
        assert c.post("/projects", json={"name": "a"}, headers=headers).status_code == 201
        before = c.get("/projects").json()["count"]
        other = c.post("/projects", json={"name": "b"}, headers=headers)
        assert other.status_code == 422 and "different request" in other.json()["detail"]
        assert c.get("/projects").json()["count"] == before


def test_keys_are_per_credential(user: TestUser, other_user: TestUser) -> None:
    headers = {"Idempotency-Key": "shared-key"}
    with user.client() as c, other_user.client() as o:
        mine = c.post("/projects", json={"name": "same"}, headers=headers).json()
        theirs = o.post("/projects", json={"name": "same"}, headers=headers).json()
    assert mine["id"] != theirs["id"] and theirs["org"] == other_user.username.lower()


def test_errors_are_replayed_but_server_failures_are_not(user: TestUser) -> None:
    with user.client() as c:
        headers = {"Idempotency-Key": "bad-1"}
        first = c.post("/projects", json={"name": ""}, headers=headers)
        again = c.post("/projects", json={"name": ""}, headers=headers)
        assert first.status_code == again.status_code == 422
        assert again.headers.get("Idempotent-Replayed") == "true"
        flaky = {"Idempotency-Key": "flaky-1"}
        assert c.post("/_debug/flaky/idem-1?fail=1", headers=flaky).status_code == 503
        retried = c.post("/_debug/flaky/idem-1?fail=1", headers=flaky)
        assert retried.status_code == 200 and retried.json()["attempts"] == 2
