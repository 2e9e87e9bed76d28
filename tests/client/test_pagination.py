"""Cursors walk real list endpoints across many pages, lazily, in both clients."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from cloudlet import AsyncClient, Client
from tests.client.conftest import FAST
from tests.support.accounts import make_user
from tests.support.live import LiveServer

MANY = 120  # plus the home project: 121 items, 18 pages of 7


@dataclass
class Crowd:
    """A user with MANY projects besides their home project."""

    url: str
    token: str
    names: list[str]


@pytest.fixture(scope="module")
def crowd(server: LiveServer) -> Crowd:
    owner = make_user(server, "page")
    with Client(server.url, owner.token, profile=False, env=False, retries=FAST) as c:
        names = [c.projects.create(f"p{i:03d}")["name"] for i in range(MANY)]
    return Crowd(server.url, owner.token, ["home", *names])


@pytest.fixture
def crowd_client(crowd: Crowd) -> Iterator[Client]:
    with Client(crowd.url, crowd.token, retries=FAST) as c:
        yield c


def test_iterating_walks_every_page(crowd: Crowd, crowd_client: Client) -> None:
    cursor = crowd_client.paginate("projects", {"limit": 7})
    names = [p["name"] for p in cursor]
    assert sorted(names) == sorted(crowd.names)
    assert len(names) == len(set(names)) == MANY + 1


def test_pages_come_in_server_sized_chunks(crowd: Crowd, crowd_client: Client) -> None:
    sizes = [len(page) for page in crowd_client.paginate("/projects", {"limit": 7}).pages()]
    assert sizes == [7] * 17 + [2]


def test_cursor_is_lazy_and_steps_with_next(crowd: Crowd, crowd_client: Client) -> None:
    requests: list[str] = []
    crowd_client._http.event_hooks["request"].append(lambda r: requests.append(str(r.url)))
    cursor = crowd_client.projects.list()
    assert requests == []  # nothing is fetched before it is needed
    assert cursor.get("count") == MANY + 1
    assert len(requests) == 1
    first = cursor.next()
    assert first["name"] in crowd.names
    assert cursor.has_next
    rest = list(cursor)
    assert len(rest) == MANY  # default page size 50: three pages in all
    assert len(requests) == 3 and "offset=100" in requests[-1]
    assert not cursor.has_next
    with pytest.raises(StopIteration):
        cursor.next()


def test_the_first_query_param_wins_and_next_links_keep_it(crowd_client: Client) -> None:
    cursor = crowd_client.projects.list(search="p11")
    names = sorted(p["name"] for p in cursor)
    assert names == [f"p{i}" for i in range(110, 120)]
    assert cursor.get("count") == 10


def test_a_response_that_is_not_a_list_is_one_item(client: Client) -> None:
    cursor = client.paginate("me")
    assert cursor.has_next
    (me,) = list(cursor)
    assert me["username"] == client.me()["username"]
    assert cursor.get("username") == me["username"]
    assert not cursor.has_next


def test_an_empty_list_has_nothing(client: Client) -> None:
    cursor = client.projects.list(search="no such project name")
    assert not cursor.has_next
    assert list(cursor) == [] and list(cursor.pages()) == []
    assert cursor.get("count") == 0


def test_async_cursor_walks_the_same_pages(crowd: Crowd) -> None:
    async def walk() -> tuple[list[str], list[int], int, bool]:
        async with AsyncClient(crowd.url, crowd.token, retries=FAST) as c:
            names = [p["name"] async for p in c.paginate("projects", {"limit": 7})]
            paged = c.projects.list()
            sizes = [len(page) async for page in paged.pages()]
            counted = c.paginate("/projects", {"limit": 40})
            count = await counted.get("count")
            first = await counted.next()
            return names, sizes, count, bool(first) and await counted.has_next()

    names, sizes, count, more = asyncio.run(walk())
    assert sorted(names) == sorted(crowd.names)
    assert sizes == [50, 50, 21]
    assert count == MANY + 1 and more
