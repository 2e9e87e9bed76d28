"""`AsyncClient`: the asyncio twin of `Client` (sync_client.py), method for method. Every call
is awaited; `paginate()` gives an `AsyncCursor` and `stream=True` an `AsyncStream`."""

from __future__ import annotations

from collections.abc import AsyncIterable, Awaitable, Iterable, Mapping
from types import TracebackType
from typing import Any, Literal, cast

import httpx

from cloudlet.client.async_files import AsyncFiles
from cloudlet.client.async_writer import AsyncWriter
from cloudlet.client.base import ClientBase
from cloudlet.client.calls import (
    AsyncStream,
    IdempotencyKey,
    Params,
    build_request,
    read_answer,
    transport_error,
)
from cloudlet.client.connection import Connection, segment
from cloudlet.client.cursor import AsyncCursor
from cloudlet.client.datasets import AsyncDatasets
from cloudlet.client.defaults import DEFAULT_TIMEOUT, TimeoutTypes, client_headers, retry_policy
from cloudlet.client.errors import error_for
from cloudlet.client.events import AsyncEvents
from cloudlet.client.paths import ApiPath
from cloudlet.client.query import AsyncQuery, TimeLike, new_query
from cloudlet.client.reports import report_body
from cloudlet.client.resources import Orgs, ProjectRef, Projects, Tokens, Users
from cloudlet.client.retries import AsyncRetryTransport, RetryPolicy
from cloudlet.client.sql import AsyncSqlCursor, first_post, sql_request
from cloudlet.client.timeseries import Devices, StreamEvents, points_request

__all__ = ["AsyncClient"]

JSON = dict[str, Any]
AJSON = Awaitable[JSON]


class AsyncClient(ClientBase):
    """A connection to one Cloudlet server; `async with` it, or `await client.close()`.

    `url`, `token` and `project` default to CLOUDLET_URL / CLOUDLET_TOKEN / CLOUDLET_PROJECT,
    then to the active profile (`profile=` names another; `profile=False` skips profiles,
    `env=False` skips the environment). With `project`, relative paths are under that project.

    `retries` is a count or a `RetryPolicy`; `auto_idempotency_keys` gives every
    authenticated POST a fresh `Idempotency-Key`, which makes it safe to retry. `transport`
    replaces the network (e.g. `httpx.ASGITransport`); retries wrap whatever it is.
    """

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        project: ProjectRef | None = None,
        *,
        profile: str | Literal[False] | None = None,
        env: bool = True,
        timeout: TimeoutTypes = DEFAULT_TIMEOUT,
        retries: int | RetryPolicy = 3,
        auto_idempotency_keys: bool = True,
        headers: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.connection = Connection.configure(url, token, project, profile=profile, env=env)
        self.retry_policy = retry_policy(retries)
        self.auto_idempotency_keys = auto_idempotency_keys
        self._http = httpx.AsyncClient(
            transport=AsyncRetryTransport(
                self.retry_policy, transport or httpx.AsyncHTTPTransport()
            ),
            timeout=timeout,
            headers=client_headers(headers),
            follow_redirects=True,
        )
        self.api = ApiPath(self)
        self.orgs: Orgs[AJSON, Awaitable[None], AsyncCursor] = Orgs(self)
        self.projects: Projects[AJSON, Awaitable[None], AsyncCursor] = Projects(self)
        self.tokens: Tokens[AJSON, Awaitable[None], AsyncCursor] = Tokens(self)
        self.users: Users[AJSON, Awaitable[None], AsyncCursor] = Users(self)
        self.devices: Devices[AJSON, Awaitable[None], AsyncCursor] = Devices(self)
        self.stream_events: StreamEvents[AJSON, Awaitable[None], AsyncCursor] = StreamEvents(self)
        self.events = AsyncEvents(self)
        self.files = AsyncFiles(self)
        self.datasets = AsyncDatasets(self)

    # -- sessions ---------------------------------------------------------------------------

    async def login(self, username_or_email: str, password: str) -> JSON:
        """Start a session: the client keeps the session token; returns the user."""
        answer = await self._send("POST", "/auth/login",
                            data={"username": username_or_email, "password": password},
                            anonymous=True)
        self.set_token(answer["token"])
        return cast(JSON, answer["user"])

    async def logout(self) -> None:
        """Revoke the token in use on the server and forget it."""
        try:
            await self._send("POST", "/auth/logout", idempotency_key=False)
        finally:
            self.set_token(None)

    async def me(self) -> JSON:
        """The caller's account, with `token` describing the credential in use."""
        return cast(JSON, await self.get("/me"))

    # -- points ------------------------------------------------------------------------------

    async def write_points(self, project: ProjectRef, data: Any = None, **form: Any) -> Any:
        """Write one batch (see `Client.write_points`)."""
        call = points_request(project, data, **form)
        return await self._send("POST", call.path, params=call.params, content=call.content,
                                headers=call.headers)

    def query(self, project: ProjectRef | None = None) -> AsyncQuery:
        """A chainable point query over `project` (default: the client's project; none is
        needed for a single stream): `.stream(gid)`, `.device(d).series(name)`, `.between(a,
        b)`, `.greater_than(v)`, `.every("1h").agg("mean")`, `.last(n)`, `.descending()`,
        then `.all()`, iteration, `.to_pandas()` or `.to_arrow()`."""
        return new_query(self, project, AsyncQuery)  # type: ignore[no-any-return]

    def report_sum(self, sources: Iterable[str], start: TimeLike | None = None,
                   end: TimeLike | None = None) -> Any:
        """The accumulation report: per-stream sums (in output units) with units, and a
        total per unit, over project, device or stream gids in [start, end] (inclusive;
        None leaves a bound open)."""
        return self.post("/reports/sum", report_body(sources, start, end))

    def writer(self, project: ProjectRef, **options: Any) -> AsyncWriter:
        """An `AsyncWriter` that batches points to `project` from an asyncio task, retrying
        until the server has them; `spool_dir=` keeps them on disk until then. Call it in a
        running event loop; options as `Client.writer` (see `cloudlet.AsyncWriter`)."""
        return AsyncWriter(self, project, **options)

    # -- generic calls ----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        data: Any = None,
        content: bytes | AsyncIterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        raw: bool = False,
        stream: bool = False,
        idempotency_key: IdempotencyKey = None,
    ) -> Any:
        """Any call. `data` is sent as JSON, `content` as bytes (or an async iterable of
        them, streamed). Returns parsed JSON (None for
        204), bytes when `raw`, or an `AsyncStream` to read from when `stream`."""
        return await self._send(method, url, params=params, data=data, content=content,
                          headers=headers, raw=raw, stream=stream,
                          idempotency_key=idempotency_key)

    async def get(self, url: str, params: Params | None = None, *, raw: bool = False,
            stream: bool = False) -> Any:
        return await self._send("GET", url, params=params, raw=raw, stream=stream)

    async def post(self, url: str, data: Any = None, *, params: Params | None = None,
             raw: bool = False, stream: bool = False,
             idempotency_key: IdempotencyKey = None) -> Any:
        return await self._send("POST", url, params=params, data=data, raw=raw, stream=stream,
                          idempotency_key=idempotency_key)

    async def put(self, url: str, data: Any = None, *, params: Params | None = None,
            raw: bool = False, stream: bool = False) -> Any:
        return await self._send("PUT", url, params=params, data=data, raw=raw, stream=stream)

    async def patch(self, url: str, data: Any = None, *, params: Params | None = None,
              raw: bool = False, stream: bool = False) -> Any:
        return await self._send("PATCH", url, params=params, data=data, raw=raw, stream=stream)

    async def delete(self, url: str, data: Any = None, *, params: Params | None = None,
               raw: bool = False, stream: bool = False) -> Any:
        return await self._send("DELETE", url, params=params, data=data, raw=raw, stream=stream)

    def sql(self, project: ProjectRef, query: str, params: Params | None = None, *,
            write: bool | None = None) -> AsyncSqlCursor:
        """Run a PostgreSQL/PostGIS statement on the project's datasets; a cursor over its rows.

        `params` adds request parameters (`limit` per page, `geometry="wkt"`). Statements that
        start with INSERT, UPDATE or DELETE (or `write=True`) are POSTed; the write runs when
        the cursor is first read (`await cursor.get("count")`).
        """
        path, get_params, body = sql_request(project, query, params, write, segment)
        if get_params is not None:
            return AsyncSqlCursor(self.get, path, get_params, self.connection.rebase)
        fetch = first_post(lambda url, data, extra: self.post(url, data, params=extra),
                           self.get, body)
        cursor = AsyncSqlCursor(fetch, path, None, self.connection.rebase)
        return cursor

    def paginate(self, url: str, params: Params | None = None) -> AsyncCursor:
        """A lazy cursor over a list endpoint (or one item, if the answer is not a list)."""
        return AsyncCursor(self.get, url, params, self.connection.rebase)

    async def _send(
        self, method: str, url: str, *, params: Params | None = None, data: Any = None,
        content: bytes | AsyncIterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        raw: bool = False, stream: bool = False, idempotency_key: IdempotencyKey = None,
        anonymous: bool = False,
    ) -> Any:
        request = build_request(
            self._http, self.connection, method, url, params=params, data=data,
            content=content, headers=headers, idempotency_key=idempotency_key,
            auto_keys=self.auto_idempotency_keys, anonymous=anonymous,
        )
        try:
            response = await self._http.send(request, stream=stream)
        except httpx.RequestError as exc:
            raise transport_error(exc, request) from exc
        if not stream:
            return read_answer(response, raw=raw)
        if response.is_error:
            try:
                await response.aread()
            finally:
                await response.aclose()
            raise error_for(response)
        return AsyncStream(response)

    # -- lifetime ---------------------------------------------------------------------------

    async def close(self) -> None:
        """Close the pooled connections."""
        await self._http.aclose()

    aclose = close  # the name `contextlib.aclosing()` calls

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
