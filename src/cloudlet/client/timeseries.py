"""Devices and point writes in the SDK: `client.devices` and `client.write_points`.

`write_points` sends one synchronous batch in any form the server takes and returns the
server's summary (`{points, streams, devices_registered}`; None for line protocol, which
answers 204). A write is idempotent — the same stream and time again replaces the point —
so it is retried safely like any keyed POST.
"""

from __future__ import annotations

import gzip as gzip_module
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from cloudlet.client.connection import segment
from cloudlet.client.points import is_points, points_body
from cloudlet.client.resources import C, J, N, ProjectRef, _given, _Resource

__all__ = ["Devices", "PointsRequest", "StreamEvents", "points_request"]


class Devices(_Resource[J, N, C]):
    """A project's devices, named by gid (`d--…`), key or int id."""

    def list(self, project: ProjectRef, *, search: str | None = None) -> C:
        return self._list(f"/projects/{segment(project)}/devices", {"search": search})

    def register(self, project: ProjectRef, key: str | None = None, *, label: str | None = None,
                 tags: Mapping[str, str] | None = None) -> J:
        """A new device with `key`, or a key the server generates; Conflict (409) when the
        key is taken."""
        body = _given(key=key, label=label, tags=dict(tags) if tags is not None else None)
        return self._post(f"/projects/{segment(project)}/devices", body)

    def register_or_load(self, project: ProjectRef, device_id_path: str | os.PathLike[str],
                         key: str | None = None, *, label: str | None = None) -> J:
        """The device whose key is saved at `device_id_path`, or a newly registered one
        whose key is then saved there (iobeam's `saveToDisk()`), so a device keeps its
        identity across restarts. The file is written whole (temp file, fsync, rename)."""
        path = os.fspath(device_id_path)
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                saved = f.read().strip()
            if not saved:
                raise ValueError(f"{path} is empty; remove it to register a new device.")
            if key is not None and key != saved:
                raise ValueError(f"{path} holds device {saved!r}, not {key!r}.")
            return self.get(project, saved)
        device = self.register(project, key, label=label)
        if isinstance(device, dict):  # the async client answers an awaitable
            _save_key(path, device["key"])
            return device
        return _saved_after(device, path)  # type: ignore[return-value]

    def get(self, project: ProjectRef, device: str | int) -> J:
        return self._get(f"/projects/{segment(project)}/devices/{segment(device)}")

    def update(self, project: ProjectRef, device: str | int, *, label: str | None = None,
               tags: Mapping[str, str] | None = None) -> J:
        body = _given(label=label, tags=dict(tags) if tags is not None else None)
        return self._patch(f"/projects/{segment(project)}/devices/{segment(device)}", body)

    def create_token(self, project: ProjectRef, device: str | int, *, name: str = "",
                     expires_in: int | None = None) -> J:
        """A write token for this device alone; its secret is in the answer's `token`."""
        path = f"/projects/{segment(project)}/devices/{segment(device)}/tokens"
        return self._post(path, _given(name=name, expires_in=expires_in), False)


class StreamEvents(_Resource[J, N, C]):
    """Events on a stream (named by its gid): a timestamp, a JSON object of extra data,
    and optionally a file of the stream's project."""

    def create(self, stream: str, *, timestamp: int | float | str | None = None,
               precision: str | None = None, extra_data: Mapping[str, Any] | None = None,
               file: int | None = None) -> J:
        """A new event; `timestamp` is an epoch in `precision` (s, ms, us, ns) or ISO-8601
        (default now). `file` attaches an existing file of the stream's project by its id
        (upload it first with `client.files`)."""
        body = _given(timestamp=timestamp, precision=precision, file=file,
                      extra_data=dict(extra_data) if extra_data is not None else None)
        return self._post(f"/streams/{segment(stream)}/events", body)

    def list(self, stream: str, *, start: int | str | None = None,
             end: int | str | None = None, precision: str | None = None,
             has_file: bool | None = None, order: str | None = None) -> C:
        """Events in [start, end] (inclusive; epoch ms unless `precision`, or ISO-8601)."""
        return self._list(f"/streams/{segment(stream)}/events", {
            "start": start, "end": end, "precision": precision, "order": order,
            "has_file": None if has_file is None else str(has_file).lower()})


def _save_key(path: str, key: str) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(key + "\n")
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


async def _saved_after(pending: Any, path: str) -> Any:
    device = await pending
    _save_key(path, device["key"])
    return device


class PointsRequest:
    """What `write_points` sends: a path, query parameters, a body and its headers."""

    def __init__(self, path: str, params: dict[str, Any], content: bytes,
                 headers: dict[str, str]) -> None:
        self.path = path
        self.params = params
        self.content = content
        self.headers = headers


def _plain(value: Any) -> Any:
    tolist = getattr(value, "tolist", None)  # numpy arrays and scalars
    if callable(tolist):
        return tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def points_request(
    project: ProjectRef,
    data: Any = None,
    *,
    device: str | None = None,
    series: Mapping[str, Any] | None = None,
    fields: Sequence[str] | None = None,
    rows: Sequence[Sequence[Any]] | None = None,
    lines: str | bytes | None = None,
    csv: str | bytes | None = None,
    precision: str | None = None,
    gzip: bool = False,
) -> PointsRequest:
    if is_points(data):  # DataSeries / DataStore: sent columnar, in microseconds
        if precision not in (None, "us"):
            raise ValueError("DataPoint times carry their own unit; don't give precision=.")
        data, precision = points_body(data, device), "us"
    given = [x is not None for x in (data, series, fields or rows, lines, csv)]
    if sum(given) != 1:
        raise ValueError("Give exactly one of data, series, fields+rows, lines or csv.")
    base = f"/projects/{segment(project)}"
    params: dict[str, Any] = {"precision": precision, "device": device}
    headers: dict[str, str] = {}
    if lines is not None:
        content = lines.encode() if isinstance(lines, str) else bytes(lines)
        path = f"{base}/write"
        headers["Content-Type"] = "text/plain; charset=utf-8"
    elif csv is not None:
        content = csv.encode() if isinstance(csv, str) else bytes(csv)
        path = f"{base}/points"
        headers["Content-Type"] = "text/csv"
    else:
        if data is None and series is not None:
            data = {"series": dict(series)}
        elif data is None:
            if not fields or rows is None:
                raise ValueError("The table form needs both fields and rows.")
            data = {"fields": list(fields), "data": [list(r) for r in rows]}
        if isinstance(data, dict) and device is not None and "device" not in data:
            data = {**data, "device": device}
        content = json.dumps(data, default=_plain, allow_nan=True).encode()
        path = f"{base}/points"
        headers["Content-Type"] = "application/json"
    if gzip:
        content = gzip_module.compress(content, 5)
        headers["Content-Encoding"] = "gzip"
    return PointsRequest(path, {k: v for k, v in params.items() if v is not None}, content,
                         headers)
