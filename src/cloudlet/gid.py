"""Global ids ("gids", also called slugs) for Cloudlet objects, IOTile Cloud compatible.

Wire format: a one-letter type tag, then ``--``-separated fields. Every field is a
lower-case hex number, zero-padded and written in groups of four digits joined by ``-``::

    p--0000-0001                               project 1 (8 hex digits)
    d--0000-0000-0000-0001                     device 1 (16 hex digits)
    v--0000-0001--5001                         variable 0x5001 (4 digits, local to project 1)
    s--0000-0001--0000-0000-0000-0002--5001    variable 5001 of device 2 in project 1

Input is forgiving: ints, bare hex (``'000a'``, ``'0xa'``, ``'5'``), partial slugs
(``'d--000a'``, ``'0000-0005'``) are zero-padded on the left, hex case is ignored.
Output is always canonical. Project 0 and device 0 mean "any/none" (wildcards).
Malformed input raises :class:`GidError` (a ``ValueError``) naming the bad value.
"""

from __future__ import annotations

import re
from typing import ClassVar, Self, TypedDict

__all__ = [
    "DeviceSlug",
    "GidError",
    "ProjectSlug",
    "StreamParts",
    "StreamSlug",
    "VariableSlug",
    "parse_gid",
]

_SEP = "--"
_FIELD = re.compile(r"(?:0[xX])?[0-9a-fA-F]+(?:-[0-9a-fA-F]+)*")  # ASCII hex only


class GidError(ValueError):
    """A global id (slug) is malformed or out of range."""


def _error(kind: str, value: object, why: str) -> GidError:
    return GidError(f"invalid {kind} {value!r}: {why}")


def _format(number: int, digits: int) -> str:
    text = f"{number:0{digits}x}"
    return "-".join(text[i : i + 4] for i in range(0, digits, 4))


def _parse_field(kind: str, original: object, field: str, digits: int) -> int:
    """Parse one hex field (``'0000-000a'``, ``'a'``, ``'0xA'``) of at most `digits` digits."""
    if not field:
        raise _error(kind, original, "empty id")
    if not _FIELD.fullmatch(field):
        raise _error(kind, original, f"{field!r} is not hex digits in '-'-joined groups")
    hexdigits = field.replace("-", "")
    if hexdigits[:2].lower() == "0x":
        hexdigits = hexdigits[2:]
    if len(hexdigits) > digits:
        raise _error(kind, original, f"more than {digits} hex digits")
    return int(hexdigits, 16)


def _check_int(kind: str, value: int, digits: int) -> int:
    if not 0 <= value < 16**digits:
        raise _error(kind, value, f"must be in [0, 16**{digits})")
    return value


def _split(kind: str, value: object, letter: str, sizes: tuple[int, ...]) -> list[str]:
    """Split a full slug into its fields, checking the type letter and the field count."""
    if not isinstance(value, str):
        raise _error(kind, value, "expected a str")
    parts = value.split(_SEP)
    if len(parts) != len(sizes) + 1 or parts[0].lower() != letter:
        layout = _SEP.join([letter, *(_format(0, n).replace("0", "x") for n in sizes)])
        raise _error(kind, value, f"expected {layout}")
    return parts[1:]


class _Slug:
    """Common behaviour: canonical string, equality and hashing by that string."""

    _letter: ClassVar[str]
    _slug: str | None = None

    def _text(self) -> str:
        if self._slug is None:
            raise GidError(f"empty {type(self).__name__}: call from_parts() first")
        return self._slug

    def __str__(self) -> str:
        return self._text()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._slug!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, _Slug):
            return type(self) is type(other) and self._slug == other._slug
        if isinstance(other, str):  # compares equal to its canonical string
            return self._slug == other
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._slug)

    def formatted_id(self) -> str:
        """The slug without its type letter, e.g. ``'0000-0005'`` for ``p--0000-0005``."""
        return self._text().split(_SEP, 1)[1]


class _Numbered(_Slug):
    _id: int

    @property
    def id(self) -> int:
        """The numeric id (for a variable: its local id, e.g. 0x5001)."""
        return self._id

    def get_id(self) -> int:
        return self._id

    def __int__(self) -> int:
        return self._id


class _SingleIdSlug(_Numbered):
    _digits: ClassVar[int]

    def __init__(self, id: int | str | Self) -> None:
        self._id = self._parse(id)
        self._slug = _SEP.join([self._letter, _format(self._id, self._digits)])

    @classmethod
    def _parse(cls, value: object) -> int:
        kind = cls.__name__
        if isinstance(value, cls):
            return value.id
        if isinstance(value, bool) or not isinstance(value, int | str):
            raise _error(kind, value, "expected an int, a hex str or a slug")
        if isinstance(value, int):
            return _check_int(kind, value, cls._digits)
        field = value
        if _SEP in value:
            (field,) = _split(kind, value, cls._letter, (cls._digits,))
        return _parse_field(kind, value, field, cls._digits)


class ProjectSlug(_SingleIdSlug):
    """Project gid ``p--xxxx-xxxx`` (8 hex digits)."""

    _letter = "p"
    _digits = 8


class DeviceSlug(_SingleIdSlug):
    """Device gid ``d--xxxx-xxxx-xxxx-xxxx`` (16 hex digits)."""

    _letter = "d"
    _digits = 16


class VariableSlug(_Numbered):
    """Variable gid ``v--<project>--xxxx``: a 4-hex-digit id local to a project."""

    _letter = "v"
    _project: ProjectSlug

    def __init__(
        self, id: int | str | VariableSlug, project: int | str | ProjectSlug | None = None
    ) -> None:
        kind = type(self).__name__
        given = None if project is None else ProjectSlug(project)
        if isinstance(id, VariableSlug):
            found, self._id = id._project, id._id
        elif isinstance(id, bool) or not isinstance(id, int | str):
            raise _error(kind, id, "expected an int, a hex str or a slug")
        elif isinstance(id, int):
            found, self._id = None, _check_int(kind, id, 4)
        elif _SEP in id:
            prj, local = _split(kind, id, "v", (8, 4))
            found = ProjectSlug(_parse_field(kind, id, prj, 8))
            self._id = _parse_field(kind, id, local, 4)
        else:
            found, self._id = None, _parse_field(kind, id, id, 4)
        if found is None or found.id == 0:  # no project, or the wildcard project 0
            found = given
        elif given is not None and given != found:
            raise _error(kind, id, f"belongs to {found}, not to {given}")
        self._project = found or ProjectSlug(0)
        self._slug = _SEP.join(["v", self._project.formatted_id(), _format(self._id, 4)])

    @property
    def project(self) -> ProjectSlug:
        return self._project

    def formatted_local_id(self) -> str:
        """The local id as 4 hex digits, e.g. ``'5001'``."""
        return _format(self._id, 4)


class StreamParts(TypedDict):
    project: ProjectSlug
    device: DeviceSlug
    variable: VariableSlug


class StreamSlug(_Slug):
    """Stream gid ``s--<project>--<device>--<variable local id>``.

    ``StreamSlug()`` is empty until :meth:`from_parts` is called. An empty project or
    device field (``s----0000-0000-0000-0001--5001``) means project/device 0.
    """

    _letter = "s"

    def __init__(self, id: str | StreamSlug | None = None) -> None:
        if isinstance(id, StreamSlug):
            self._slug = id._slug
        elif id is not None:
            kind = type(self).__name__
            prj, dev, var = _split(kind, id, "s", (8, 16, 4))
            self.from_parts(
                _parse_field(kind, id, prj, 8) if prj else 0,
                _parse_field(kind, id, dev, 16) if dev else 0,
                _parse_field(kind, id, var, 4),
            )

    def from_parts(
        self,
        project: int | str | ProjectSlug | None,
        device: int | str | DeviceSlug | None,
        variable: int | str | VariableSlug,
    ) -> Self:
        """Set this stream from its parts (``None``/``''`` project or device mean 0)."""
        prj = ProjectSlug(0 if project is None or project == "" else project)
        dev = DeviceSlug(0 if device is None or device == "" else device)
        var = VariableSlug(variable)
        if var.project.id not in (0, prj.id):
            raise _error("StreamSlug variable", str(var), f"does not belong to {prj}")
        fields = [prj.formatted_id(), dev.formatted_id(), var.formatted_local_id()]
        self._slug = _SEP.join(["s", *fields])
        return self

    def get_parts(self) -> StreamParts:
        """Split into ``{'project': ..., 'device': ..., 'variable': ...}`` slugs."""
        _, prj, dev, var = self._text().split(_SEP)
        project = ProjectSlug(prj)
        return StreamParts(
            project=project, device=DeviceSlug(dev), variable=VariableSlug(var, project)
        )


_TYPES = {cls._letter: cls for cls in (ProjectSlug, DeviceSlug, VariableSlug, StreamSlug)}


def parse_gid(text: str) -> ProjectSlug | DeviceSlug | VariableSlug | StreamSlug:
    """Parse a full slug (``'p--…'``, ``'d--…'``, ``'v--…'`` or ``'s--…'``) into its type."""
    if not isinstance(text, str) or _SEP not in text:
        raise _error("gid", text, "expected a str like 'p--0000-0001'")
    cls = _TYPES.get(text.split(_SEP, 1)[0].lower())
    if cls is None:
        raise _error("gid", text, "type letter must be one of p, d, v, s")
    return cls(text)
