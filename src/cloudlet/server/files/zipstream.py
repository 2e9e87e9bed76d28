"""A folder as a zip, produced while it is sent: entries are written to a sink that hands
over what accumulated, so nothing larger than one read chunk is held. Entries are stored
(not compressed: data files rarely shrink and the CPU goes to the transfer), with zip64
where a member needs it."""

from __future__ import annotations

import zipfile
from collections.abc import Callable, Iterable, Iterator

from cloudlet.server.files.service import ZipEntry


class _Sink:
    """A write-only, unseekable file: zipfile then writes data descriptors after members."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def write(self, data: bytes) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> Iterator[bytes]:
        if self.parts:
            data = b"".join(self.parts)
            self.parts.clear()
            yield data


def zip_stream(top: str, entries: Iterable[ZipEntry],
               read: Callable[[str], Iterator[bytes]]) -> Iterator[bytes]:
    sink = _Sink()
    with zipfile.ZipFile(sink, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        folder = zipfile.ZipInfo(f"{top}/", _when(None))
        folder.external_attr = 0o40755 << 16 | 0x10
        zf.writestr(folder, b"")
        for entry in entries:
            info = zipfile.ZipInfo(f"{top}/{entry.path}", _when(entry))
            if entry.key is None:
                info.external_attr = 0o40755 << 16 | 0x10
                zf.writestr(info, b"")
            else:
                info.external_attr = 0o100644 << 16
                info.file_size = entry.size  # lets zipfile pick zip64 up front
                with zf.open(info, "w") as member:
                    for chunk in read(entry.key):
                        member.write(chunk)
                        yield from sink.drain()
            yield from sink.drain()
    yield from sink.drain()


def _when(entry: ZipEntry | None) -> tuple[int, int, int, int, int, int]:
    if entry is None:
        return (1980, 1, 1, 0, 0, 0)
    t = entry.updated_on
    return (max(t.year, 1980), t.month, t.day, t.hour, t.minute, t.second)
