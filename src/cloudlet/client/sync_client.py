"""`Client`: the synchronous SDK client. `AsyncClient` (async_client.py) is its twin, with the
same method names; the shared pieces live in connection.py, calls.py and resources.py."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import TracebackType
from typing import Any, Literal, cast

import httpx

from cloudlet.client.base import ClientBase
from cloudlet.client.calls import (
    IdempotencyKey,
    Params,
    Stream,
    build_request,
    read_answer,
    transport_error,
)
from cloudlet.client.connection import Connection, segment
from cloudlet.client.cursor import Cursor
from cloudlet.client.datasets import Datasets
from cloudlet.client.defaults import DEFAULT_TIMEOUT, TimeoutTypes, client_headers, retry_policy
from cloudlet.client.errors import error_for
from cloudlet.client.events import Events
from cloudlet.client.files import Files
from cloudlet.client.paths import ApiPath
from cloudlet.client.query import Query, TimeLike, new_query
from cloudlet.client.reports import report_body
from cloudlet.client.resources import Orgs, ProjectRef, Projects, Tokens, Users
from cloudlet.client.retries import RetryPolicy, RetryTransport
from cloudlet.client.sql import SqlCursor, first_post, sql_request
from cloudlet.client.timeseries import Devices, StreamEvents, points_request
from cloudlet.client.writer import Writer

__all__ = ["Client"]

JSON = dict[str, Any]


class Client(ClientBase):
    """A connection to one Cloudlet server; use it as a context manager, or call `close()`.

    `url`, `token` and `project` default to CLOUDLET_URL / CLOUDLET_TOKEN / CLOUDLET_PROJECT,
    then to the active profile (`profile=` names another; `profile=False` skips profiles,
    `env=False` skips the environment). With `project`, relative paths are under that project.

    `retries` is a count or a `RetryPolicy`; `auto_idempotency_keys` gives every
    authenticated POST a fresh `Idempotency-Key`, which makes it safe to retry. `transport`
    replaces the network (e.g. `httpx.MockTransport`); retries wrap whatever it is.
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
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.connection = Connection.configure(url, token, project, profile=profile, env=env)
        self.retry_policy = retry_policy(retries)
        self.auto_idempotency_keys = auto_idempotency_keys
        self._http = httpx.Client(
            transport=RetryTransport(self.retry_policy, transport or httpx.HTTPTransport()),
            timeout=timeout,
            headers=client_headers(headers),
            follow_redirects=True,
        )
        self.api = ApiPath(self)
        self.orgs: Orgs[JSON, None, Cursor] = Orgs(self)
        self.projects: Projects[JSON, None, Cursor] = Projects(self)
        self.tokens: Tokens[JSON, None, Cursor] = Tokens(self)
        self.users: Users[JSON, None, Cursor] = Users(self)
        self.devices: Devices[JSON, None, Cursor] = Devices(self)
        self.stream_events: StreamEvents[JSON, None, Cursor] = StreamEvents(self)
        self.events = Events(self)
        self.files = Files(self)
        self.datasets = Datasets(self)

    # -- sessions ---------------------------------------------------------------------------

    def login(self, username_or_email: str, password: str) -> JSON:
        """Start a session: the client keeps the session token; returns the user."""
        answer = self._send("POST", "/auth/login",
                            data={"username": username_or_email, "password": password},
                            anonymous=True)
        self.set_token(answer["token"])
        return cast(JSON, answer["user"])

    def logout(self) -> None:
        """Revoke the token in use on the server and forget it."""
        try:
            self._send("POST", "/auth/logout", idempotency_key=False)
        finally:
            self.set_token(None)

    def me(self) -> JSON:
        """The caller's account, with `token` describing the credential in use."""
        return cast(JSON, self.get("/me"))

    # -- points ------------------------------------------------------------------------------

    def write_points(self, project: ProjectRef, data: Any = None, **form: Any) -> Any:
        """Write one batch, synchronously, in any form the server takes: `data` (a JSON
        document: series, devices, table or list form), or `series=` / `fields=`+`rows=`
        with `device=`, or `lines=` (line protocol), or `csv=`; `precision=` states the unit
        of integer times, `gzip=True` compresses the body. Returns the server's summary
        (None for line protocol). Atomic: a bad row raises BadRequest and writes nothing."""
        call = points_request(project, data, **form)
        return self._send("POST", call.path, params=call.params, content=call.content,
                          headers=call.headers)

    def query(self, project: ProjectRef | None = None) -> Query:
        """A chainable point query over `project` (default: the client's project; none is
        needed for a single stream): `.stream(gid)`, `.device(d).series(name)`, `.between(a,
        b)`, `.greater_than(v)`, `.every("1h").agg("mean")`, `.last(n)`, `.descending()`,
        then `.all()`, iteration, `.to_pandas()` or `.to_arrow()`."""
        return new_query(self, project, Query)  # type: ignore[no-any-return]

    def report_sum(self, sources: Iterable[str], start: TimeLike | None = None,
                   end: TimeLike | None = None) -> Any:
        """The accumulation report: per-stream sums (in output units) with units, and a
        total per unit, over project, device or stream gids in [start, end] (inclusive;
        None leaves a bound open)."""
        return self.post("/reports/sum", report_body(sources, start, end))

    def writer(self, project: ProjectRef, **options: Any) -> Writer:
        """A `Writer` that batches points to `project` in a background thread, retrying until
        the server has them; `spool_dir=` keeps them on disk until then. Options: `device`,
        `batch_size`, `flush_interval`, `spool_dir`, `max_buffered`, `buffer_timeout`,
        `on_success`, `on_error`, `max_retries`, `backoff`, `max_backoff`, `timeout` (see
        `cloudlet.Writer`)."""
        return Writer(self, project, **options)

    # -- generic calls ----------------------------------------------------------------------

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Params | None = None,
        data: Any = None,
        content: bytes | Iterable[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        raw: bool = False,
        stream: bool = False,
        idempotency_key: IdempotencyKey = None,
    ) -> Any:
        """Any call. `data` is sent as JSON, `content` as bytes (or an iterable of them,
        streamed). Returns parsed JSON (None for
        204), bytes when `raw`, or a `Stream` to read from when `stream`."""
        return self._send(method, url, params=params, data=data, content=content,
                          headers=headers, raw=raw, stream=stream,
                          idempotency_key=idempotency_key)

    def get(self, url: str, params: Params | None = None, *, raw: bool = False,
            stream: bool = False) -> Any:
        return self._send("GET", url, params=params, raw=raw, stream=stream)

    def post(self, url: str, data: Any = None, *, params: Params | None = None,
             raw: bool = False, stream: bool = False,
             idempotency_key: IdempotencyKey = None) -> Any:
        return self._send("POST", url, params=params, data=data, raw=raw, stream=stream,
                          idempotency_key=idempotency_key)

    def put(self, url: str, data: Any = None, *, params: Params | None = None,
            raw: bool = False, stream: bool = False) -> Any:
        return self._send("PUT", url, params=params, data=data, raw=raw, stream=stream)

    def patch(self, url: str, data: Any = None, *, params: Params | None = None,
              raw: bool = False, stream: bool = False) -> Any:
        return self._send("PATCH", url, params=params, data=data, raw=raw, stream=stream)

    def delete(self, url: str, data: Any = None, *, params: Params | None = None,
               raw: bool = False, stream: bool = False) -> Any:
        return self._send("DELETE", url, params=params, data=data, raw=raw, stream=stream)

    def sql(self, project: ProjectRef, query: str, params: Params | None = None, *,
            write: bool | None = None) -> SqlCursor:
        """Run a PostgreSQL/PostGIS statement on the project's datasets; a cursor over its rows.

        `params` adds request parameters (`limit` per page, `geometry="wkt"`). Statements that
        start with INSERT, UPDATE or DELETE (or `write=True`) are POSTed at once; the cursor's
        `.get("count")` is then the number of rows changed.
        """
        path, get_params, body = sql_request(project, query, params, write, segment)
        if get_params is not None:
            return SqlCursor(self.get, path, get_params, self.connection.rebase)
        fetch = first_post(lambda url, data, extra: self.post(url, data, params=extra),
                           self.get, body)
        cursor = SqlCursor(fetch, path, None, self.connection.rebase)
        cursor.get("count")  # a write happens now, not when someone iterates
        return cursor

    def paginate(self, url: str, params: Params | None = None) -> Cursor:
        """A lazy cursor over a list endpoint (or one item, if the answer is not a list)."""
        return Cursor(self.get, url, params, self.connection.rebase)

    def _send(
        self, method: str, url: str, *, params: Params | None = None, data: Any = None,
        content: bytes | Iterable[bytes] | None = None,
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
            response = self._http.send(request, stream=stream)
        except httpx.RequestError as exc:
            raise transport_error(exc, request) from exc
        if not stream:
            return read_answer(response, raw=raw)
        if response.is_error:
            try:
                response.read()
            finally:
                response.close()
            raise error_for(response)
        return Stream(response)

    # -- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        """Close the pooled connections."""
        self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
