"""`client.datasets`: geospatial datasets of a project, their rows, imports and exports.

The plain calls (list, get, create, rows, …) are written once for both clients, like the
other resources. Imports, exports and the conversions (`to_geojson`, `to_pandas`) stream
and poll, so `Datasets` (sync) and `AsyncDatasets` each have their own versions of those.

Progress callbacks get `(stage, done, total)`: stage `upload` (bytes sent), `fetching`
(bytes of a resumable upload the server has copied to its worker), `scanning` (bytes the
server has checked), `loading` (rows written), `export` (bytes received; total is None,
since an export streams).

Imports at or above `resumable_threshold` bytes go as a resumable upload (the files
domain's sessions, through the same code as `client.files`), then start from it with the
whole file's sha256 checked by the server. `datasets.galleries` holds the files attached to
rows (galleries.py).
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, TypeVar, cast

from cloudlet.client import async_files, files
from cloudlet.client.connection import segment
from cloudlet.client.errors import _BY_STATUS, APIError, BadRequest, ServerError
from cloudlet.client.file_calls import DEFAULT_CHUNK, DEFAULT_THRESHOLD
from cloudlet.client.galleries import AsyncGalleries, Galleries
from cloudlet.client.resources import ProjectRef, _given, _Resource

if TYPE_CHECKING:
    from cloudlet.client.async_client import AsyncClient
    from cloudlet.client.sync_client import Client

__all__ = ["AsyncDatasets", "Datasets", "ImportFailed"]

J = TypeVar("J")
N = TypeVar("N")
C = TypeVar("C")
JSON = dict[str, Any]
Progress = Callable[[str, int, int | None], Any]
Source = str | os.PathLike[str] | bytes | IO[bytes]
BBox = tuple[float, float, float, float]
CHUNK = 1 << 20
FINISHED = ("succeeded", "failed")


class ImportFailed(BadRequest):
    """An import the server refused or could not finish: `detail` names the file and the
    line or feature at fault (also in `problem`: `file`, `line`, `feature`)."""


def _failure(job: JSON) -> APIError:
    problem = dict(job.get("error") or {})
    status = int(problem.get("status") or 400)
    cls: type[APIError] = ImportFailed if status < 500 else ServerError
    if status in (413, 415):
        cls = _BY_STATUS.get(status, ImportFailed)
    return cls(str(problem.get("detail") or "The import failed."), status_code=status,
               title=str(problem.get("title") or ""), problem={**problem,
                                                                "import_id": job.get("id")})


def _query(bbox: BBox | str | None, filters: dict[str, Any]) -> dict[str, Any]:
    """`bbox` and column filters (`name="x"`, `population__gt=1000`) as query parameters."""
    params: dict[str, Any] = {}
    if bbox is not None:
        params["bbox"] = bbox if isinstance(bbox, str) else ",".join(str(v) for v in bbox)
    for key, value in filters.items():
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list | tuple | set):
            value = ",".join(str(v) for v in value)
        params[key] = value
    return params


def _base(project: ProjectRef) -> str:
    return f"/projects/{segment(project)}/datasets"


def _opened(source: Source, filename: str | None) -> tuple[IO[bytes], str, int, bool]:
    """(binary file, its name, its size, whether we opened it and must close it)."""
    if isinstance(source, bytes):
        if not filename:
            raise ValueError("Give filename= when importing bytes (its suffix picks the "
                             "format, e.g. 'cities.csv').")
        return io.BytesIO(source), filename, len(source), True
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        return path.open("rb"), filename or path.name, path.stat().st_size, True
    name = filename or os.path.basename(str(getattr(source, "name", "")))
    if not name:
        raise ValueError("Give filename= for a file object without a name.")
    start = source.tell()
    size = source.seek(0, os.SEEK_END) - start
    source.seek(start)
    return source, name, size, False


def _chunks(fh: IO[bytes], size: int, progress: Progress | None) -> Iterator[bytes]:
    sent = 0
    while chunk := fh.read(CHUNK):
        sent += len(chunk)
        if progress:
            progress("upload", sent, size)
        yield chunk


def _report(job: JSON, progress: Progress | None) -> None:
    if progress is None:
        return
    if job["phase"] in ("loading", "done") or job["state"] == "succeeded":
        progress("loading", job["rows_done"], job["rows_total"])
    elif job["phase"] == "fetching":
        progress("fetching", job["bytes_done"], job["bytes_total"])
    else:
        progress("scanning", job["bytes_done"], job["bytes_total"])


def _uploaded(progress: Progress | None) -> Any:
    """A files-style progress `(done, total)` reporting the `upload` stage."""
    return None if progress is None else lambda done, total: progress("upload", done, total)


def _from_upload(upload_url: str, filename: str, sha256: str, name: str | None,
                 description: str | None) -> JSON:
    return _given(upload_id=upload_url.rsplit("/", 1)[1], filename=filename, sha256=sha256,
                  name=name, description=description)


def _frame(collection: JSON, dataset: JSON, geometry: str) -> Any:
    """A FeatureCollection as a pandas DataFrame, typed from the dataset's columns."""
    import pandas as pd

    columns = dataset["columns"]
    primary = dataset["geometry_column"]
    records = []
    for feature in collection["features"]:
        record = dict(feature["properties"])
        if primary:
            record[primary] = feature["geometry"]
        records.append(record)
    frame = pd.DataFrame.from_records(records, columns=[c["name"] for c in columns])
    to_shapely: Callable[[Any], Any] | None = None
    if geometry in ("auto", "shapely"):
        try:
            from shapely.geometry import shape

            to_shapely = shape
        except ImportError:
            if geometry == "shapely":
                raise ImportError("geometry='shapely' needs shapely: pip install "
                                  "'cloudlet[geo]'") from None
    for column in columns:
        name, kind = column["name"], column["type"]
        if kind == "timestamp":
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601")
        elif kind == "integer":
            frame[name] = frame[name].astype("Int64")
        elif kind == "real":
            frame[name] = frame[name].astype("float64")
        elif kind == "boolean":
            frame[name] = frame[name].astype("boolean")
        elif kind == "geometry" and to_shapely is not None:
            frame[name] = [None if g is None else to_shapely(g) for g in frame[name]]
    if "amigo_id" in frame.columns:
        frame = frame.set_index("amigo_id")
    return frame


class _DatasetCalls(_Resource[J, N, C]):
    """The calls that are one request each, shared by both clients."""

    def list(self, project: ProjectRef, *, search: str | None = None) -> C:
        """The project's datasets."""
        return self._list(_base(project), {"search": search})

    def get(self, project: ProjectRef, dataset: int) -> J:
        return self._get(f"{_base(project)}/{int(dataset)}")

    def create(self, project: ProjectRef, name: str, *, columns: list[JSON] | None = None,
               description: str | None = None, kind: Literal["table", "realtime"] = "table"
               ) -> J:
        """An empty dataset; `columns` are `{"name", "type", "geometry_type"?}` with type
        text, integer, real, boolean, timestamp, json or geometry."""
        body = _given(name=name, description=description, kind=kind, columns=columns or [])
        return self._post(_base(project), body)

    def update(self, project: ProjectRef, dataset: int, *, name: str | None = None,
               description: str | None = None, add_columns: list[JSON] | None = None) -> J:
        """Rename, describe, or add columns (null in the rows already there)."""
        return self._patch(f"{_base(project)}/{int(dataset)}",
                           _given(name=name, description=description,
                                  add_columns=add_columns))

    def delete(self, project: ProjectRef, dataset: int) -> N:
        """Delete a dataset and its table."""
        return self._delete(f"{_base(project)}/{int(dataset)}")

    def rows(self, project: ProjectRef, dataset: int, *, bbox: BBox | str | None = None,
             **filters: Any) -> C:
        """A cursor over rows (JSON; geometries as GeoJSON), optionally within `bbox`
        (min_lon, min_lat, max_lon, max_lat) and filtered: `name="x"`, `n__gt=5`,
        `kind__in=["a", "b"]`, `note__isnull=True`, `name__contains="par"`."""
        return self._list(f"{_base(project)}/{int(dataset)}/rows", _query(bbox, filters))

    def row(self, project: ProjectRef, dataset: int, amigo_id: str) -> J:
        return self._get(f"{_base(project)}/{int(dataset)}/rows/{segment(amigo_id)}")

    def add_row(self, project: ProjectRef, dataset: int, row: JSON) -> J:
        """Insert one row; returns it with its `amigo_id`."""
        return self._post(f"{_base(project)}/{int(dataset)}/rows", row)

    def add_rows(self, project: ProjectRef, dataset: int, rows: list[JSON]) -> J:
        """Insert rows, all or none; returns `{"rows": [...]}`."""
        return self._post(f"{_base(project)}/{int(dataset)}/rows", {"rows": rows})

    def update_row(self, project: ProjectRef, dataset: int, amigo_id: str, values: JSON) -> J:
        return self._patch(f"{_base(project)}/{int(dataset)}/rows/{segment(amigo_id)}", values)

    def delete_row(self, project: ProjectRef, dataset: int, amigo_id: str) -> N:
        return self._delete(f"{_base(project)}/{int(dataset)}/rows/{segment(amigo_id)}")

    def add_features(self, project: ProjectRef, dataset: int, features: JSON) -> J:
        """Insert a GeoJSON Feature, or a FeatureCollection (all or none)."""
        return self._post(f"{_base(project)}/{int(dataset)}/features", features)

    def post_positions(self, project: ProjectRef, dataset: int, positions: list[JSON]) -> J:
        """Move objects of a realtime dataset: `[{object_id, latitude, longitude,
        timestamp?, …}]`; subscribers of `dataset:<id>` get a `realtime` event."""
        return self._post(f"{_base(project)}/{int(dataset)}/positions",
                          {"positions": positions})

    def imports(self, project: ProjectRef) -> C:
        """The project's import jobs, newest first."""
        return self._list(f"/projects/{segment(project)}/imports")

    def import_status(self, project: ProjectRef, import_id: str) -> J:
        return self._get(f"/projects/{segment(project)}/imports/{segment(import_id)}")


class Datasets(_DatasetCalls[JSON, None, Any]):
    """`Client.datasets`."""

    _client: Client

    def __init__(self, client: Client, *, resumable_threshold: int = DEFAULT_THRESHOLD,
                 chunk_size: int = DEFAULT_CHUNK) -> None:
        super().__init__(client)
        self.resumable_threshold = resumable_threshold
        self.chunk_size = chunk_size
        self.galleries = Galleries(client)

    def start_import(self, project: ProjectRef, source: Source, *, name: str | None = None,
                     filename: str | None = None, description: str | None = None,
                     progress: Progress | None = None, resumable: bool | None = None) -> JSON:
        """Upload a file (path, bytes or binary file) as it streams from disk and return the
        import job at once; `wait_import` follows it. `resumable` None picks by size
        (`resumable_threshold`): a resumable upload survives dropped connections."""
        fh, filename, size, close = _opened(source, filename)
        base = f"/projects/{segment(project)}"
        try:
            if resumable if resumable is not None else size >= self.resumable_threshold:
                url, sha256 = files.send_resumable(
                    self._client, base, fh, size, opening={}, chunk_size=self.chunk_size,
                    progress=_uploaded(progress))
                return cast(JSON, self._client.post(
                    f"{base}/imports/from-upload",
                    _from_upload(url, filename, sha256, name, description)))
            return cast(JSON, self._client.request(
                "POST", f"/projects/{segment(project)}/imports",
                params=_given(filename=filename, name=name, description=description),
                content=_chunks(fh, size, progress),  # type: ignore[arg-type]
                headers={"Content-Type": "application/octet-stream",
                         "Content-Length": str(size)},
                idempotency_key=False))
        finally:
            if close:
                fh.close()

    def wait_import(self, project: ProjectRef, import_id: str, *,
                    progress: Progress | None = None, timeout: float | None = None,
                    interval: float = 0.25) -> JSON:
        """Poll an import until it ends; raises `ImportFailed` (or 413/415/5xx errors) if
        it failed, `TimeoutError` after `timeout` seconds."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = self.import_status(project, import_id)
            _report(job, progress)
            if job["state"] == "failed":
                raise _failure(job)
            if job["state"] == "succeeded":
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"Import {import_id} still {job['state']} after "
                                   f"{timeout} s.")
            time.sleep(interval)

    def import_file(self, project: ProjectRef, source: Source, *, name: str | None = None,
                    filename: str | None = None, description: str | None = None,
                    progress: Progress | None = None, timeout: float | None = None,
                    resumable: bool | None = None) -> list[JSON]:
        """Import CSV, GeoJSON or a zip of them (a Shapefile/GeoPackage where the server has
        pyogrio) and return the datasets made (one, or one per file in a zip)."""
        job = self.start_import(project, source, name=name, filename=filename,
                                description=description, progress=progress,
                                resumable=resumable)
        return list(self.wait_import(project, job["id"], progress=progress,
                                     timeout=timeout)["datasets"])

    def export_stream(self, project: ProjectRef, dataset: int, *,
                      format: Literal["csv", "geojson"] = "csv",
                      bbox: BBox | str | None = None, **filters: Any) -> Iterator[bytes]:
        """The export's bytes as they arrive."""
        params = {"format": format, **_query(bbox, filters)}
        with self._client.get(f"{_base(project)}/{int(dataset)}/export", params,
                              stream=True) as answer:
            yield from answer.iter_bytes(CHUNK)

    def export(self, project: ProjectRef, dataset: int, *,
               format: Literal["csv", "geojson"] = "csv", to: str | os.PathLike[str] | IO[bytes]
               | None = None, progress: Progress | None = None,
               bbox: BBox | str | None = None, **filters: Any) -> bytes | int:
        """Export as CSV or GeoJSON: the bytes, or with `to` (a path or binary file) the
        number of bytes written there, streamed."""
        chunks = self.export_stream(project, dataset, format=format, bbox=bbox, **filters)
        if to is None:
            data = bytearray()
            for chunk in chunks:
                data += chunk
                if progress:
                    progress("export", len(data), None)
            return bytes(data)
        opened = isinstance(to, str | os.PathLike)
        out = Path(to).open("wb") if opened else to  # type: ignore[arg-type]
        written = 0
        try:
            for chunk in chunks:
                out.write(chunk)  # type: ignore[union-attr]
                written += len(chunk)
                if progress:
                    progress("export", written, None)
        finally:
            if opened:
                out.close()  # type: ignore[union-attr]
        return written

    def to_geojson(self, project: ProjectRef, dataset: int, *, bbox: BBox | str | None = None,
                   **filters: Any) -> JSON:
        """The dataset (or the selected rows) as one GeoJSON FeatureCollection."""
        data = self.export(project, dataset, format="geojson", bbox=bbox, **filters)
        return cast(JSON, json.loads(cast(bytes, data)))

    def to_pandas(self, project: ProjectRef, dataset: int, *,
                  geometry: Literal["auto", "shapely", "geojson"] = "auto",
                  bbox: BBox | str | None = None, **filters: Any) -> Any:
        """A pandas DataFrame indexed by amigo_id, columns typed; geometries as shapely
        objects when shapely is installed (`auto`), else GeoJSON dicts. Needs
        `pip install 'cloudlet[pandas]'` (and `[geo]` for shapely)."""
        meta = self.get(project, dataset)
        return _frame(self.to_geojson(project, dataset, bbox=bbox, **filters), meta, geometry)


class AsyncDatasets(_DatasetCalls[Any, Any, Any]):
    """`AsyncClient.datasets`: the same calls, awaited."""

    _client: AsyncClient

    def __init__(self, client: AsyncClient, *, resumable_threshold: int = DEFAULT_THRESHOLD,
                 chunk_size: int = DEFAULT_CHUNK) -> None:
        super().__init__(client)
        self.resumable_threshold = resumable_threshold
        self.chunk_size = chunk_size
        self.galleries = AsyncGalleries(client)

    async def start_import(self, project: ProjectRef, source: Source, *,
                           name: str | None = None, filename: str | None = None,
                           description: str | None = None, progress: Progress | None = None,
                           resumable: bool | None = None) -> JSON:
        fh, filename, size, close = _opened(source, filename)
        base = f"/projects/{segment(project)}"
        if resumable if resumable is not None else size >= self.resumable_threshold:
            try:
                url, sha256 = await async_files.send_resumable(
                    self._client, base, fh, size, opening={}, chunk_size=self.chunk_size,
                    progress=_uploaded(progress))
            finally:
                if close:
                    fh.close()
            return cast(JSON, await self._client.post(
                f"{base}/imports/from-upload",
                _from_upload(url, filename, sha256, name, description)))

        async def chunks() -> AsyncIterator[bytes]:
            for chunk in _chunks(fh, size, progress):
                yield chunk

        try:
            return cast(JSON, await self._client.request(
                "POST", f"/projects/{segment(project)}/imports",
                params=_given(filename=filename, name=name, description=description),
                content=chunks(),  # type: ignore[arg-type]
                headers={"Content-Type": "application/octet-stream",
                         "Content-Length": str(size)},
                idempotency_key=False))
        finally:
            if close:
                fh.close()

    async def wait_import(self, project: ProjectRef, import_id: str, *,
                          progress: Progress | None = None, timeout: float | None = None,
                          interval: float = 0.25) -> JSON:
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            job = await self.import_status(project, import_id)
            _report(job, progress)
            if job["state"] == "failed":
                raise _failure(job)
            if job["state"] == "succeeded":
                return cast(JSON, job)
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"Import {import_id} still {job['state']} after "
                                   f"{timeout} s.")
            await asyncio.sleep(interval)

    async def import_file(self, project: ProjectRef, source: Source, *,
                          name: str | None = None, filename: str | None = None,
                          description: str | None = None, progress: Progress | None = None,
                          timeout: float | None = None, resumable: bool | None = None
                          ) -> list[JSON]:
        job = await self.start_import(project, source, name=name, filename=filename,
                                      description=description, progress=progress,
                                      resumable=resumable)
        done = await self.wait_import(project, job["id"], progress=progress, timeout=timeout)
        return list(done["datasets"])

    async def export_stream(self, project: ProjectRef, dataset: int, *,
                            format: Literal["csv", "geojson"] = "csv",
                            bbox: BBox | str | None = None, **filters: Any
                            ) -> AsyncIterator[bytes]:
        params = {"format": format, **_query(bbox, filters)}
        answer = await self._client.get(f"{_base(project)}/{int(dataset)}/export", params,
                                        stream=True)
        async with answer:
            async for chunk in answer.aiter_bytes(CHUNK):
                yield chunk

    async def export(self, project: ProjectRef, dataset: int, *,
                     format: Literal["csv", "geojson"] = "csv",
                     to: str | os.PathLike[str] | IO[bytes] | None = None,
                     progress: Progress | None = None, bbox: BBox | str | None = None,
                     **filters: Any) -> bytes | int:
        data = bytearray()
        opened = isinstance(to, str | os.PathLike)
        out = Path(to).open("wb") if opened else to  # type: ignore[arg-type]
        written = 0
        try:
            async for chunk in self.export_stream(project, dataset, format=format, bbox=bbox,
                                                  **filters):
                if out is None:
                    data += chunk
                else:
                    out.write(chunk)  # type: ignore[union-attr]
                written += len(chunk)
                if progress:
                    progress("export", written, None)
        finally:
            if opened:
                out.close()  # type: ignore[union-attr]
        return bytes(data) if to is None else written

    async def to_geojson(self, project: ProjectRef, dataset: int, *,
                         bbox: BBox | str | None = None, **filters: Any) -> JSON:
        data = await self.export(project, dataset, format="geojson", bbox=bbox, **filters)
        return cast(JSON, json.loads(cast(bytes, data)))

    async def to_pandas(self, project: ProjectRef, dataset: int, *,
                        geometry: Literal["auto", "shapely", "geojson"] = "auto",
                        bbox: BBox | str | None = None, **filters: Any) -> Any:
        meta = await self.get(project, dataset)
        collection = await self.to_geojson(project, dataset, bbox=bbox, **filters)
        return _frame(collection, meta, geometry)
