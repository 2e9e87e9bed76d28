"""Realtime datasets and dataset events over the websocket: position posts move objects and
publish `realtime` shaped as AmigoCloud clients expect; create/change/delete are announced."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from tests.support.accounts import TestUser
from tests.support.live import LiveServer
from tests.support.ws import Socket


def _realtime(c: httpx.Client, p: int) -> dict[str, Any]:
    answer = c.post(f"/projects/{p}/datasets", json={
        "name": "fleet", "kind": "realtime",
        "columns": [{"name": "speed", "type": "real"}, {"name": "driver", "type": "text"}]})
    assert answer.status_code == 201, answer.text
    return dict(answer.json())


def test_positions_move_objects_and_publish(server: LiveServer, user: TestUser) -> None:
    p = user.home_project["id"]
    with user.client() as c:
        ds = _realtime(c, p)
        assert [col["name"] for col in ds["columns"]] == [
            "amigo_id", "object_id", "latitude", "longitude", "timestamp", "location", "speed",
            "driver"]
        url = f"/projects/{p}/datasets/{ds['id']}/positions"

        async def scenario() -> list[dict[str, Any]]:
            sock = await Socket.open(server, user.token)
            try:
                subscribed = await sock.subscribe(f"dataset:{ds['id']}")
                assert subscribed["op"] == "subscribed", subscribed
                first = await asyncio.to_thread(c.post, url, json={"positions": [
                    {"object_id": "o1", "latitude": 1.5, "longitude": 2.5, "speed": 3},
                    {"object_id": 7, "latitude": -1, "longitude": -2,
                     "timestamp": "2024-01-01T00:00:00Z", "driver": "ada"}]})
                assert first.status_code == 200, first.text
                second = await asyncio.to_thread(c.post, url, json={"positions": [
                    {"object_id": "o1", "latitude": 10, "longitude": 20}]})
                assert second.status_code == 200, second.text
                return await sock.events(2)
            finally:
                await sock.close()

        events = [e for e in asyncio.run(scenario()) if e["event"] == "realtime"]
        assert len(events) == 2
        data = events[0]["data"]
        assert data["dataset_id"] == ds["id"]
        assert [(o["object_id"], o["latitude"], o["longitude"]) for o in data["data"]] == [
            ("o1", 1.5, 2.5), ("7", -1, -2)]
        assert data["data"][1]["driver"] == "ada"
        assert data["data"][1]["timestamp"] == "2024-01-01T00:00:00Z"
        moved = events[1]["data"]["data"][0]
        assert (moved["object_id"], moved["latitude"], moved["speed"]) == ("o1", 10, 3)

        objects = c.get(f"/projects/{p}/datasets/{ds['id']}/rows").json()
        assert objects["count"] == 2
        meta = c.get(f"/projects/{p}/datasets/{ds['id']}").json()
        assert meta["feature_count"] == 2 and meta["bbox"] == [-2, -1, 20, 10]
        for body, words in (({"positions": [{"latitude": 1, "longitude": 2}]}, "object_id"),
                            ({"positions": [{"object_id": "x", "latitude": 91,
                                             "longitude": 0}]}, "latitude"),
                            ({"positions": [{"object_id": "x", "latitude": 1,
                                             "longitude": 0, "colour": "red"}]}, "colour")):
            answer = c.post(url, json=body)
            assert answer.status_code == 400 and words in answer.json()["detail"], answer.text
        plain = c.post(f"/projects/{p}/datasets", json={"name": "plain"}).json()
        answer = c.post(f"/projects/{p}/datasets/{plain['id']}/positions",
                        json={"positions": [{"object_id": "x", "latitude": 1, "longitude": 1}]})
        assert answer.status_code == 409


def test_dataset_events_and_topic_rights(server: LiveServer, user: TestUser,
                                         other_user: TestUser) -> None:
    p = user.home_project["id"]

    async def scenario() -> list[dict[str, Any]]:
        sock = await Socket.open(server, user.token)
        try:
            assert (await sock.subscribe(f"project:{p}"))["op"] == "subscribed"
            with user.client() as c:
                made = (await asyncio.to_thread(
                    c.post, f"/projects/{p}/datasets", json={"name": "watched"})).json()
                await asyncio.to_thread(c.patch, f"/projects/{p}/datasets/{made['id']}",
                                        json={"description": "now described"})
                await asyncio.to_thread(c.delete, f"/projects/{p}/datasets/{made['id']}")
            return await sock.events(3)
        finally:
            await sock.close()

    events = asyncio.run(scenario())
    assert [e["event"] for e in events] == ["dataset.created", "dataset.changed",
                                            "dataset.deleted"]
    assert events[0]["data"]["name"] == "watched"
    assert events[0]["data"]["table_name"] == f"dataset_{events[0]['data']['dataset_id']}"

    with user.client() as c:
        ds = c.post(f"/projects/{p}/datasets", json={"name": "private"}).json()

    async def outsider() -> dict[str, Any]:
        sock = await Socket.open(server, other_user.token)
        try:
            return await sock.subscribe(f"dataset:{ds['id']}")
        finally:
            await sock.close()

    refused = asyncio.run(outsider())
    assert refused["op"] == "error" and "dataset" in refused["detail"]


def test_import_outcomes_are_announced(server: LiveServer, user: TestUser) -> None:
    p = user.home_project["id"]

    async def scenario() -> list[dict[str, Any]]:
        sock = await Socket.open(server, user.token)
        try:
            assert (await sock.subscribe(f"user:{user.id}"))["op"] == "subscribed"
            with user.client() as c:
                for body, name in ((b"a\n1\n", "good.csv"), (b"a,b\n1\n", "bad.csv")):
                    await asyncio.to_thread(
                        c.post, f"/projects/{p}/imports", content=body,
                        params={"filename": name, "wait": 30},
                        headers={"content-type": "text/csv"})
            return await sock.events(2)
        finally:
            await sock.close()

    good, bad = asyncio.run(scenario())
    assert good["event"] == "import.succeeded" and good["data"]["filename"] == "good.csv"
    assert len(good["data"]["dataset_ids"]) == 1 and good["data"]["project_id"] == p
    assert bad["event"] == "import.failed" and bad["data"]["error"]["line"] == 2
