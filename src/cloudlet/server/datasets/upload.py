"""Upload bodies streamed to a file on disk, never whole in memory: a raw body (the file's
bytes, named by `?filename=`, `Content-Disposition` or its media type) or
`multipart/form-data` with one file part (`file`, or AmigoCloud's `datafile`) and optional
`name` / `description` fields."""

from __future__ import annotations

import os
import tempfile
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from cloudlet.server.core.errors import Invalid, TooLarge

MEDIA_NAMES = {"text/csv": "upload.csv", "text/tab-separated-values": "upload.tsv",
               "application/geo+json": "upload.geojson", "application/json": "upload.geojson",
               "application/zip": "upload.zip", "application/x-zip-compressed": "upload.zip",
               "application/geopackage+sqlite3": "upload.gpkg"}
FILE_FIELDS = ("file", "datafile")
TEXT_FIELDS = ("name", "description", "filename")


@dataclass
class Spooled:
    path: Path
    filename: str | None
    size: int = 0
    fields: dict[str, str] = field(default_factory=dict)


def _filename_of(disposition: str) -> str | None:
    _, options = parse_options_header(disposition)
    raw = options.get(b"filename")
    return os.path.basename(raw.decode("utf-8", "replace")) if raw else None


def raw_filename(request: Request, given: str | None) -> str | None:
    if given:
        return os.path.basename(given)
    disposition = request.headers.get("content-disposition")
    if disposition and (name := _filename_of(disposition)):
        return name
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return MEDIA_NAMES.get(media)


def check_length(request: Request, limit: int) -> None:
    length = request.headers.get("content-length", "")
    if length.isdigit() and int(length) > limit:
        raise TooLarge(f"The upload is {length} bytes; the limit is {limit}.")


async def _chunks(request: Request, limit: int) -> AsyncIterator[bytes]:
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:
                raise TooLarge(f"The upload is larger than the limit of {limit} bytes.")
            yield chunk
    except ClientDisconnect:
        raise Invalid("The upload was cut off before its end.") from None


async def spool(request: Request, folder: Path, limit: int, filename: str | None,
                check: Callable[[str], object]) -> Spooled:
    """Write the upload to a new file in `folder`; `check(filename)` runs as soon as the
    name is known, so an unsupported file is refused before its bytes are read."""
    fd, name = tempfile.mkstemp(dir=folder, prefix="upload-")
    out = Spooled(Path(name), None)
    try:
        with os.fdopen(fd, "wb") as fh:
            media = request.headers.get("content-type", "")
            if media.lower().startswith("multipart/form-data"):
                await _multipart(request, media, fh, out, limit, check)
            else:
                out.filename = raw_filename(request, filename)
                if not out.filename:
                    raise Invalid("Name the file: send ?filename=data.csv, a "
                                  "Content-Disposition header, or a media type such as "
                                  "text/csv.")
                check(out.filename)
                async for chunk in _chunks(request, limit):
                    fh.write(chunk)
                    out.size += len(chunk)
        if out.size == 0:
            raise Invalid("The upload is empty.")
        return out
    except BaseException:
        out.path.unlink(missing_ok=True)
        raise


class _Form:
    """python-multipart callbacks: the first file part goes to `fh`, small text fields are
    kept, everything else is skipped. Problems are kept to raise between chunks."""

    def __init__(self, fh: IO[bytes], out: Spooled, check: Callable[[str], object]) -> None:
        self.fh, self.out, self.check = fh, out, check
        self.headers: dict[bytes, bytes] = {}
        self.field, self.value = b"", b""
        self.kind: str | None = None
        self.values: dict[str, bytearray] = {}
        self.problems: list[Exception] = []

    def callbacks(self) -> dict[str, Callable[..., None]]:
        return {"on_part_begin": self.part_begin, "on_header_field": self.header_field,
                "on_header_value": self.header_value, "on_header_end": self.header_end,
                "on_headers_finished": self.headers_finished, "on_part_data": self.part_data}

    def part_begin(self) -> None:
        self.headers, self.kind = {}, None

    def header_field(self, data: bytes, start: int, end: int) -> None:
        self.field += data[start:end]

    def header_value(self, data: bytes, start: int, end: int) -> None:
        self.value += data[start:end]

    def header_end(self) -> None:
        self.headers[self.field.lower()] = self.value
        self.field, self.value = b"", b""

    def headers_finished(self) -> None:
        disposition = self.headers.get(b"content-disposition", b"").decode("utf-8", "replace")
        _, options = parse_options_header(disposition)
        name = options.get(b"name", b"").decode()
        self.kind = None
        if b"filename" in options and name in FILE_FIELDS and self.out.filename is None:
            self.out.filename = _filename_of(disposition) or "upload"
            try:
                self.check(self.out.filename)
            except Exception as error:
                self.problems.append(error)
            self.kind = "file"
        elif name in TEXT_FIELDS:
            self.kind = name
            self.values[name] = bytearray()

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.kind == "file" and not self.problems:
            self.fh.write(data[start:end])
            self.out.size += end - start
        elif self.kind in self.values:
            if len(self.values[self.kind]) + end - start > 10_000:
                self.problems.append(Invalid(f"The form field {self.kind!r} is too long."))
            else:
                self.values[self.kind] += data[start:end]


async def _multipart(request: Request, media: str, fh: IO[bytes], out: Spooled, limit: int,
                     check: Callable[[str], object]) -> None:
    _, options = parse_options_header(media)
    boundary = options.get(b"boundary")
    if not boundary:
        raise Invalid("multipart/form-data without a boundary.")
    form = _Form(fh, out, check)
    parser = MultipartParser(boundary, form.callbacks())  # type: ignore[arg-type]
    try:
        async for chunk in _chunks(request, limit):
            parser.write(chunk)
            if form.problems:
                raise form.problems[0]
        parser.finalize()
    except MultipartParseError as error:
        raise Invalid(f"The multipart body is malformed: {error}.") from None
    if out.filename is None:
        raise Invalid(f"The form has no file part; send the file as one of: "
                      f"{', '.join(FILE_FIELDS)}.")
    out.fields = {k: v.decode("utf-8", "replace") for k, v in form.values.items()}
