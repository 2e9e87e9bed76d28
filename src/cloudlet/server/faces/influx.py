"""The InfluxDB face: what Telegraf, Node-RED and the Influx client libraries call.

- v1 `POST /write?db=<project>&precision=…`: `Authorization: Token|Bearer <token>`, HTTP
  Basic (the password is the token) or `?p=<token>`;
- v2 `POST /api/v2/write?bucket=<project>&precision=…` with `Authorization: Token <token>`;
- `GET|HEAD /ping` → 204; `/query` answers `CREATE DATABASE` and `SHOW DATABASES` as
  Telegraf expects at start-up (databases are projects: it creates none).

Answers: 204 once committed; 400 naming the bad line (nothing written); 401/403/404;
413; 429 with Retry-After when the writer is behind. Error bodies are Influx's own shapes.
"""

from __future__ import annotations

import base64
import re
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from cloudlet.server.core.errors import DomainError, Invalid, Throttled, Unauthenticated
from cloudlet.server.core.principal import Level
from cloudlet.server.timeseries.batch import precision_factor
from cloudlet.server.timeseries.ingest_routes import line_parser
from cloudlet.server.timeseries.wire import ingest

router = APIRouter(tags=["influxdb"])
VERSION = "1.8.10"
_HEADERS = {"X-Influxdb-Version": VERSION, "X-Influxdb-Build": "OSS"}
_V1_PRECISION = {"n": "ns", "ns": "ns", "u": "us", "us": "us", "µ": "us", "ms": "ms",
                 "s": "s", "m": "m", "h": "h"}


def influx_token(request: Request) -> str | None:
    """`Authorization: Token|Bearer X`, Basic with the token as password, or `?p=`."""
    header = request.headers.get("authorization", "").strip()
    if header:
        scheme, _, value = header.partition(" ")
        value = value.strip()
        if scheme.lower() in ("token", "bearer", "jwt") and value:
            return value
        if scheme.lower() == "basic":
            try:
                _, _, password = base64.b64decode(value).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise Unauthenticated("Malformed Basic credentials.") from None
            return password or None
        raise Unauthenticated(f"Unsupported authorization scheme {scheme!r}; send "
                              "'Authorization: Token <token>'.")
    return request.query_params.get("p") or request.query_params.get("token") or None


def _v1_error(error: DomainError) -> JSONResponse:
    headers = {**_HEADERS, "X-Influxdb-Error": error.detail[:200]}
    if isinstance(error, Throttled):
        headers["Retry-After"] = str(error.retry_after)
    body: dict[str, Any] = {"error": error.detail}
    if "errors" in error.extra:
        body["errors"] = error.extra["errors"]
    return JSONResponse(body, status_code=error.status, headers=headers)


def _v2_error(error: DomainError) -> JSONResponse:
    codes = {400: "invalid", 401: "unauthorized", 403: "forbidden", 404: "not found",
             413: "request too large", 429: "too many requests", 503: "unavailable"}
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, Throttled) else {}
    body: dict[str, Any] = {"code": codes.get(error.status, "internal error"),
                            "message": error.detail}
    if "errors" in error.extra:
        body["errors"] = error.extra["errors"]
    return JSONResponse(body, status_code=error.status, headers=headers)


async def _write(request: Request, project: str | None, precision: str, v2: bool,
                 device: str | None) -> Response:
    try:
        if not project:
            raise Invalid("Name the project: ?bucket=<project id or gid>." if v2 else
                          "Name the project: ?db=<project id or gid>.")
        factor = precision_factor(precision)
        assert factor is not None
        parse = line_parser(request.app.state.services.ingest.parsers, factor, device)
        await ingest(request, influx_token(request), project, parse, device=device)
    except DomainError as error:
        return _v2_error(error) if v2 else _v1_error(error)
    return Response(status_code=204, headers=_HEADERS)


@router.post("/write", status_code=204)
async def write_v1(request: Request, db: str | None = None, precision: str = "n",
                   rp: str | None = None, u: str | None = None, p: str | None = None,
                   device: str | None = None) -> Response:
    """InfluxDB 1.x write: `db` is the project (id, gid or uuid); `rp` and `u` are ignored;
    `device` (a Cloudlet extension) writes every line to that device key."""
    unit = _V1_PRECISION.get(precision)
    if unit is None:
        return _v1_error(Invalid(f"Unknown precision {precision!r}; use n, u, ms, s, m or h."))
    return await _write(request, db, unit, v2=False, device=device)


@router.post("/api/v2/write", status_code=204)
async def write_v2(request: Request, bucket: str | None = None, org: str | None = None,
                   precision: str = "ns", device: str | None = None) -> Response:
    """InfluxDB 2.x write: `bucket` is the project (id, gid or uuid); `org` is ignored;
    `device` as for the 1.x write."""
    if precision not in ("ns", "us", "ms", "s"):
        return _v2_error(Invalid(f"Unknown precision {precision!r}; use ns, us, ms or s."))
    return await _write(request, bucket, precision, v2=True, device=device)


@router.api_route("/ping", methods=["GET", "HEAD"], status_code=204)
def ping(verbose: str | None = None) -> Response:
    """Liveness as InfluxDB answers it (no credentials needed)."""
    if verbose in ("true", "1"):
        return JSONResponse({"version": VERSION}, headers=_HEADERS)
    return Response(status_code=204, headers=_HEADERS)


_CREATE = re.compile(r'^\s*CREATE\s+DATABASE\s+(?:IF\s+NOT\s+EXISTS\s+)?"?([^";\s]+)"?',
                     re.IGNORECASE)
_SHOW = re.compile(r"^\s*SHOW\s+DATABASES\s*;?\s*$", re.IGNORECASE)


@router.api_route("/query", methods=["GET", "POST"])
async def query(request: Request, q: str | None = None) -> Response:
    """Only what clients send at start-up: `CREATE DATABASE x` succeeds when project x
    exists and the caller may write it; `SHOW DATABASES` lists the caller's projects."""
    try:
        if q is None and request.method == "POST":
            form = await request.form()
            q = str(form.get("q") or "") or None
        token = influx_token(request)
        if token is None:
            raise Unauthenticated("Authentication required.")
        services = request.app.state.services
        result = await run_in_threadpool(_answer, services, token, q or "")
    except DomainError as error:
        return _v1_error(error)
    return JSONResponse({"results": [{"statement_id": 0, **result}]}, headers=_HEADERS)


def _answer(services: Any, token: str, q: str) -> dict[str, Any]:
    principal = services.tokens.authenticate(token)
    created = _CREATE.match(q)
    if created:
        name = created.group(1)
        with services.db.read() as conn:
            try:
                services.projects.authorize(conn, principal, name, Level.WRITE)
            except DomainError as error:
                return {"error": f"databases are Cloudlet projects and can't be created here; "
                                 f"{error.detail}"}
        return {}
    if _SHOW.match(q):
        _, found = services.projects.list(principal, limit=1000, offset=0)
        return {"series": [{"name": "databases", "columns": ["name"],
                            "values": [[str(p["id"])] for p in found]}]}
    raise Invalid("This endpoint answers only CREATE DATABASE and SHOW DATABASES; query "
                  "points through /api/v1.")
