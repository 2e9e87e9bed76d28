"""Bytes off the wire into a `BlobWriter`, streaming: a raw body, or a multipart form whose
file part is staged while the small fields are kept. Faces share these (RinoCloud's and
IOTile's multipart uploads, AmigoCloud's chunks), so nothing here knows a route.

Writes and hashing run off the event loop in batches of about 1 MiB; the body is never held
whole. Any failure (a dropped connection, the size limit, a bad form) aborts the staging,
so no half file and no temp file is left behind.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from anyio import to_thread
from python_multipart.multipart import MultipartParser, parse_options_header

from cloudlet.server.core.errors import Invalid, TooLarge
from cloudlet.server.files.blobs import BlobWriter, Staged
from cloudlet.server.files.blobstore import BlobStore

BATCH = 1 << 20
MAX_FIELDS = 1 << 20  # all non-file fields of one form together
MAX_PARTS = 50


async def receive_body(stream: AsyncIterator[bytes], writer: BlobWriter) -> Staged:
    """The whole stream into `writer`; aborts it on any failure."""
    try:
        pending = bytearray()
        async for chunk in stream:
            pending += chunk
            if len(pending) >= BATCH:
                data, pending = bytes(pending), bytearray()
                await to_thread.run_sync(writer.write, data)
        if pending:
            await to_thread.run_sync(writer.write, bytes(pending))
        return await to_thread.run_sync(writer.close)
    except BaseException:
        await to_thread.run_sync(writer.abort)
        raise


@dataclass
class Form:
    """A multipart form: its small fields, and the staged file part (if one came)."""

    fields: dict[str, str] = field(default_factory=dict)
    staged: Staged | None = None
    filename: str | None = None
    file_type: str | None = None  # the file part's Content-Type


class _Part:
    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.name = ""
        self.filename: str | None = None
        self.content_type: str | None = None
        self.is_file = False


async def receive_multipart(
    stream: AsyncIterator[bytes], content_type: str, new_writer: Callable[[], BlobWriter], *,
    file_fields: tuple[str, ...] = ("file",),
) -> Form:
    """Parse a `multipart/form-data` body: the part named in `file_fields` (or any part with
    a filename) is streamed into a writer from `new_writer`; other parts are fields."""
    kind, options = parse_options_header(content_type)
    boundary = options.get(b"boundary")
    if kind != b"multipart/form-data" or not boundary:
        raise Invalid("Expected a multipart/form-data body with a boundary.")
    form = Form()
    writer: BlobWriter | None = None
    current: _Part | None = None
    header_name, header_value = bytearray(), bytearray()
    field_data = bytearray()
    file_data = bytearray()
    sizes = {"fields": 0, "parts": 0}
    file_state = {"started": False, "done": False}
    errors: list[Exception] = []
    stores: list[BlobStore] = []

    def on_part_begin() -> None:
        nonlocal current
        sizes["parts"] += 1
        if sizes["parts"] > MAX_PARTS:
            errors.append(Invalid(f"A form may have at most {MAX_PARTS} parts."))
        current = _Part()

    def on_header_field(data: bytes, start: int, end: int) -> None:
        header_name.extend(data[start:end])

    def on_header_value(data: bytes, start: int, end: int) -> None:
        header_value.extend(data[start:end])

    def on_header_end() -> None:
        assert current is not None
        current.headers[header_name.decode("latin-1").lower()] = header_value.decode("utf-8",
                                                                                      "replace")
        header_name.clear()
        header_value.clear()

    def on_headers_finished() -> None:
        assert current is not None
        _, disposition = parse_options_header(current.headers.get("content-disposition", ""))
        current.name = disposition.get(b"name", b"").decode("utf-8", "replace")
        raw = disposition.get(b"filename")
        current.filename = None if raw is None else raw.decode("utf-8", "replace")
        current.content_type = current.headers.get("content-type")
        current.is_file = current.name in file_fields or current.filename is not None
        if current.is_file:
            if file_state["started"]:
                errors.append(Invalid("Send one file per upload."))
            file_state["started"] = True

    def on_part_data(data: bytes, start: int, end: int) -> None:
        assert current is not None
        if current.is_file:
            file_data.extend(data[start:end])
        else:
            sizes["fields"] += end - start
            if sizes["fields"] > MAX_FIELDS:
                errors.append(TooLarge(f"The form's fields exceed {MAX_FIELDS} bytes."))
            field_data.extend(data[start:end])

    def on_part_end() -> None:
        assert current is not None
        if current.is_file:
            form.filename = current.filename
            form.file_type = current.content_type
            file_state["done"] = True
        else:
            form.fields.setdefault(current.name, field_data.decode("utf-8", "replace"))
            field_data.clear()

    parser = MultipartParser(boundary, {
        "on_part_begin": on_part_begin, "on_header_field": on_header_field,
        "on_header_value": on_header_value, "on_header_end": on_header_end,
        "on_headers_finished": on_headers_finished, "on_part_data": on_part_data,
        "on_part_end": on_part_end,
    })

    async def drain() -> None:
        nonlocal writer
        if errors:
            raise errors[0]
        if file_state["started"] and writer is None and form.staged is None:
            writer = await to_thread.run_sync(new_writer)
        if writer is not None and (len(file_data) >= BATCH or file_state["done"]):
            data = bytes(file_data)
            file_data.clear()
            await to_thread.run_sync(writer.write, data)
        if writer is not None and file_state["done"]:
            done, writer = writer, None
            form.staged = await to_thread.run_sync(done.close)
            stores.append(done.store)

    try:
        async for chunk in stream:
            try:
                parser.write(chunk)
            except Exception as error:  # the parser's own errors: a malformed body
                raise Invalid(f"The multipart body is malformed: {error}.") from None
            await drain()
        parser.finalize()
        await drain()
        if writer is not None:
            raise Invalid("The multipart body ended inside the file part.")
        return form
    except BaseException:
        if writer is not None:
            await to_thread.run_sync(writer.abort)
        if form.staged is not None:
            await to_thread.run_sync(stores[0].delete, form.staged.staged)
        raise
