"""`me/geocoder/search` forwarding, and the real client's `geocode_addresses` end to end.

The geocoder itself is an external service: a tiny HTTP server started here stands in for
Pelias or Nominatim (it answers GeoJSON for the addresses it knows), and records what
Cloudlet forwarded to it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from cloudlet import Client
from tests.faces.amigocloud_support import address_dataset, run
from tests.support.accounts import make_user
from tests.support.live import LiveServer

ROWS = 1_050  # past the client's 1,000-row export pages and several 30-row UPDATE batches
UNKNOWN = {"nowhere", "nowhere else"}


def where(address: str) -> list[float]:
    """The stand-in's answer for 'N Main St': [N/100, -N/200]."""
    n = int(address.split()[0])
    return [n / 100, -n / 200]


class StandIn:
    """A geocoder on a loopback port: Pelias at /v1/search, Nominatim at /search."""

    def __init__(self) -> None:
        self.seen: list[dict[str, list[str]]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                url = urlsplit(self.path)
                query = parse_qs(url.query)
                stand_in.seen.append({"path": [url.path], **query})
                text = (query.get("text") or query.get("q") or [""])[0]
                if text == "boom":
                    self._send(500, b"upstream exploded")
                    return
                features = [] if text in UNKNOWN else [{
                    "type": "Feature", "properties": {"label": text},
                    "geometry": {"type": "Point", "coordinates": where(text)}}]
                self._send(200, json.dumps({"type": "FeatureCollection",
                                            "features": features}).encode())

            def _send(self, status: int, body: bytes) -> None:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self.http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.http.server_address[1]}"
        self.thread = threading.Thread(target=self.http.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.http.shutdown()
        self.http.server_close()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    geocoder = StandIn()
    yield geocoder
    geocoder.close()


def test_geocode_addresses_through_a_pelias_geocoder(
        launch: Callable[..., LiveServer], stand_in: StandIn) -> None:
    server = launch(CLOUDLET_GEOCODER_URL=stand_in.url + "/v1/search")
    user = make_user(server)
    project = user.home_project["id"]
    addresses = [f"{n} Main St" for n in range(ROWS - 2)] + sorted(UNKNOWN)
    dataset = address_dataset(server, user, project, addresses)
    token = user.api_token(name="geo")
    seen = run(server, token, f"""
    import contextlib, io
    ac = AmigoCloud(token=TOKEN, base_url=BASE, use_websockets=False)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        ac.geocode_addresses('{project}', '{dataset["id"]}', 'address', 'geom', country='PE')
    one = ac.get('/me/geocoder/search', {{'text': '7 Main St', 'focus.point.lat': 1.5,
                                          'focus.point.lon': 2.5}})
    out = {{"printed": printed.getvalue(), "one": one}}
    for key, params in (('boom', {{'text': 'boom'}}), ('no_text', {{}})):
        try:
            ac.get('/me/geocoder/search', params)
        except AmigoCloudError as err:
            out[key] = [err.response.status_code, json.loads(err.text)['detail']]
    print(json.dumps(out))
    """, timeout=300)
    assert f"Success rate: {ROWS - 2} of {ROWS} points created" in seen["printed"]
    assert seen["one"]["features"][0]["geometry"]["coordinates"] == where("7 Main St")
    assert seen["boom"][0] == 502 and "upstream exploded" in seen["boom"][1]
    assert seen["no_text"][0] == 400 and "text" in seen["no_text"][1]
    forwarded = [q for q in stand_in.seen if q["text"][0] == "3 Main St"][0]
    assert forwarded == {"path": ["/v1/search"], "text": ["3 Main St"], "size": ["1"],
                         "boundary.country": ["PE"]}  # no token, no (0, 0) focus
    focused = [q for q in stand_in.seen if q["text"][0] == "7 Main St"][-1]
    assert focused["focus.point.lat"] == ["1.5"] and focused["focus.point.lon"] == ["2.5"]
    with Client(server.url, token=user.token, env=False, profile=False) as sdk:
        points = {r["address"]: r for r in sdk.sql(
            project, f"SELECT address, ST_X(geom) AS x, ST_Y(geom) AS y "
                     f"FROM dataset_{dataset['id']}")}
    assert len(points) == ROWS
    for address in ("0 Main St", "999 Main St", f"{ROWS - 3} Main St"):
        assert [points[address]["x"], points[address]["y"]] == pytest.approx(where(address))
    assert all(points[a]["x"] is None for a in UNKNOWN)


def test_nominatim_kind_and_upstream_down(launch: Callable[..., LiveServer],
                                          stand_in: StandIn) -> None:
    server = launch(CLOUDLET_GEOCODER_URL=stand_in.url + "/search",
                    CLOUDLET_GEOCODER_KIND="nominatim")
    user = make_user(server)
    token = user.api_token(name="geo")
    search = server.url + "/amigocloud/api/v1/me/geocoder/search"
    found = httpx.get(search, params={"token": token, "text": "12 Main St",
                                      "components": "country:PE|postal_code:15001"})
    assert found.status_code == 200
    assert found.json()["features"][0]["geometry"]["coordinates"] == where("12 Main St")
    assert stand_in.seen[-1] == {"path": ["/search"], "q": ["12 Main St"],
                                 "format": ["geojson"], "limit": ["1"], "countrycodes": ["pe"]}
    nothing = httpx.get(search, params={"token": token, "text": "nowhere"})
    assert nothing.status_code == 204 and nothing.content == b""
    stand_in.close()  # the geocoder goes away
    down = httpx.get(search, params={"token": token, "text": "12 Main St"})
    assert down.status_code == 502 and "could not be reached" in down.json()["detail"]


def test_without_a_geocoder_the_answer_is_501(server: LiveServer) -> None:
    user = make_user(server)
    answer = httpx.get(server.url + "/amigocloud/api/v1/me/geocoder/search",
                       params={"token": user.api_token(name="geo"), "text": "1 Main St"})
    assert answer.status_code == 501
    assert "CLOUDLET_GEOCODER_URL" in answer.json()["detail"]
