"""`me/geocoder/search`: the client's geocoding request forwarded to the Pelias- or
Nominatim-compatible search URL an operator configured (`CLOUDLET_GEOCODER_URL`,
`CLOUDLET_GEOCODER_KIND`). Cloudlet has no geocoder of its own and never makes results up:
with none configured the answer is 501.

`geocode_addresses` sends `text`, `focus.point.lat=0&focus.point.lon=0` (always) and
`components=country:PE|…`; it reads `features[0].geometry.coordinates` of a 200 and skips
any other 2xx. So a search with no match answers 204 (the row is skipped) rather than an
empty feature list, on which the client's worker would crash.
"""

from __future__ import annotations

import ssl
from functools import cache
from typing import Any

import httpx
import orjson
from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool

from cloudlet.server.core.errors import DomainError, Invalid
from cloudlet.server.faces.amigocloud.routes import NotImplementedHere, caller, first
from cloudlet.server.settings import Settings

router = APIRouter(prefix="/api/v1")
USER_AGENT = "Cloudlet AmigoCloud face (geocoder forwarding)"


class GeocoderFailed(DomainError):
    status, title = 502, "Bad Gateway"


def components(text: str | None) -> dict[str, str]:
    """`country:PE|postal_code:15001` → {'country': 'PE', 'postal_code': '15001'}."""
    found: dict[str, str] = {}
    for part in (text or "").split("|"):
        key, sep, value = part.partition(":")
        if sep and key.strip() and value.strip():
            found[key.strip().lower()] = value.strip()
    return found


def _focus(request: Request) -> tuple[str, str] | None:
    """The focus point, unless it is the client's constant (0, 0), which would bias every
    search towards the Gulf of Guinea."""
    lat, lon = first(request, "focus.point.lat"), first(request, "focus.point.lon")
    if lat is None or lon is None:
        return None
    try:
        if float(lat) == 0 and float(lon) == 0:
            return None
    except ValueError:
        raise Invalid("focus.point.lat and focus.point.lon are numbers.") from None
    return lat, lon


def upstream_params(request: Request, kind: str) -> dict[str, str]:
    """The search in the configured geocoder's own parameters (the token never leaves)."""
    text = first(request, "text")
    if not text or not text.strip():
        raise Invalid("Send the address to look up as 'text'.", field="text")
    country = components(first(request, "components")).get("country")
    focus = _focus(request)
    if kind == "nominatim":
        params = {"q": text, "format": "geojson", "limit": "1"}
        if country:
            params["countrycodes"] = country.lower()
        return params
    params = {"text": text, "size": "1"}
    if country:
        params["boundary.country"] = country
    if focus:
        params["focus.point.lat"], params["focus.point.lon"] = focus
    return params


@cache
def _tls() -> ssl.SSLContext:
    """One TLS context for every forwarded request (building one costs ~80 ms)."""
    return httpx.create_ssl_context()


async def forward(settings: Settings, params: dict[str, str]) -> dict[str, Any]:
    """The geocoder's GeoJSON FeatureCollection, or GeocoderFailed with what went wrong."""
    assert settings.geocoder_url is not None
    try:
        async with httpx.AsyncClient(timeout=settings.geocoder_timeout,
                                     verify=_tls()) as client:
            answer = await client.get(settings.geocoder_url, params=params,
                                      headers={"User-Agent": USER_AGENT,
                                               "Accept": "application/json"})
    except httpx.HTTPError as error:
        raise GeocoderFailed(f"The geocoder at {settings.geocoder_url} could not be reached: "
                             f"{type(error).__name__}.") from None
    if answer.status_code != 200:
        raise GeocoderFailed(f"The geocoder answered {answer.status_code}: "
                             f"{answer.text[:300]}", upstream_status=answer.status_code)
    try:
        body = orjson.loads(answer.content)
    except orjson.JSONDecodeError:
        raise GeocoderFailed("The geocoder's answer is not JSON.") from None
    if not isinstance(body, dict) or not isinstance(body.get("features"), list):
        raise GeocoderFailed("The geocoder's answer is not a GeoJSON FeatureCollection "
                             "(is CLOUDLET_GEOCODER_KIND right?).")
    return body


@router.get("/me/geocoder/search")
async def geocoder_search(request: Request) -> Response:
    await run_in_threadpool(caller, request)
    settings: Settings = request.app.state.settings
    if not settings.geocoder_url:
        raise NotImplementedHere("No geocoder is configured on this Cloudlet server "
                                 "(set CLOUDLET_GEOCODER_URL); results are never made up.")
    body = await forward(settings, upstream_params(request, settings.geocoder_kind))
    if not body["features"]:
        return Response(status_code=204)
    return Response(orjson.dumps(body), media_type="application/geo+json")
