"""Unit tests for cloudlet.gid (global ids / slugs, IOTile Cloud compatible)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cloudlet.gid import DeviceSlug, GidError, ProjectSlug, StreamSlug, VariableSlug, parse_gid

# No example database: these are pure unit tests and must not write into the repo.
quick = settings(database=None, max_examples=200, deadline=None)

PROJECT_IDS = st.integers(min_value=0, max_value=16**8 - 1)
DEVICE_IDS = st.integers(min_value=0, max_value=16**16 - 1)
VARIABLE_IDS = st.integers(min_value=0, max_value=16**4 - 1)

CANONICAL = {
    "p": re.compile(r"p--[0-9a-f]{4}-[0-9a-f]{4}"),
    "d": re.compile(r"d--[0-9a-f]{4}(?:-[0-9a-f]{4}){3}"),
    "v": re.compile(r"v--[0-9a-f]{4}-[0-9a-f]{4}--[0-9a-f]{4}"),
    "s": re.compile(r"s--[0-9a-f]{4}-[0-9a-f]{4}--[0-9a-f]{4}(?:-[0-9a-f]{4}){3}--[0-9a-f]{4}"),
}


def grouped(n: int, digits: int) -> str:
    text = f"{n:0{digits}x}"
    return "-".join(text[i : i + 4] for i in range(0, digits, 4))


# --------------------------------------------------------------------------- documented usage


def test_documented_examples() -> None:
    project = ProjectSlug(5)
    assert str(project) == "p--0000-0005"
    device = DeviceSlug(10)
    assert str(device) == "d--0000-0000-0000-000a"
    variable = VariableSlug("5001", project)
    assert str(variable) == "v--0000-0005--5001"
    sid = StreamSlug()
    sid.from_parts(project=project, device=device, variable=variable)
    assert str(sid) == "s--0000-0005--0000-0000-0000-000a--5001"
    parts = sid.get_parts()
    assert str(parts["project"]) == "p--0000-0005"
    assert str(parts["device"]) == "d--0000-0000-0000-000a"
    assert str(parts["variable"]) == "v--0000-0005--5001"
    for form in ("000a", "d--000a", 0xA):
        assert str(DeviceSlug(form)) == "d--0000-0000-0000-000a"


def test_wire_format_examples() -> None:
    assert str(ProjectSlug(1)) == "p--0000-0001"
    assert str(VariableSlug("5001", 1)) == "v--0000-0001--5001"
    assert str(DeviceSlug(1)) == "d--0000-0000-0000-0001"
    stream = StreamSlug().from_parts(project=1, device=2, variable="5001")
    assert str(stream) == "s--0000-0001--0000-0000-0000-0002--5001"


# --------------------------------------------------------------------------- accepted forms


@pytest.mark.parametrize(
    "form",
    [5, "5", "0005", "0000-0005", "00000005", "p--5", "p--0005", "p--0000-0005", "0x5", "P--0X5"],
)
def test_project_forms(form: int | str) -> None:
    slug = ProjectSlug(form)
    assert str(slug) == "p--0000-0005"
    assert slug.id == slug.get_id() == int(slug) == 5
    assert slug.formatted_id() == "0000-0005"
    assert ProjectSlug(slug) == slug  # copy


@pytest.mark.parametrize(
    "form",
    [
        0xA,
        "a",
        "A",
        "000a",
        "0xa",
        "d--a",
        "d--000a",
        "d--0xA",
        "0000-000a",
        "0000-0000-0000-000a",
        "000000000000000a",
        "d--0000-0000-0000-000A",
    ],
)
def test_device_forms(form: int | str) -> None:
    slug = DeviceSlug(form)
    assert str(slug) == "d--0000-0000-0000-000a"
    assert slug.id == slug.get_id() == int(slug) == 10
    assert slug.formatted_id() == "0000-0000-0000-000a"
    assert DeviceSlug(slug) == slug


def test_device_uses_all_64_bits() -> None:
    # IOTile truncates int device ids to 48 bits; Cloudlet keeps all 16 hex digits.
    assert str(DeviceSlug(2**48)) == "d--0001-0000-0000-0000"
    assert str(DeviceSlug(16**16 - 1)) == "d--ffff-ffff-ffff-ffff"
    assert DeviceSlug("ffff-ffff-ffff-ffff").id == 16**16 - 1


@pytest.mark.parametrize(
    ("form", "project", "expected"),
    [
        ("5001", None, "v--0000-0000--5001"),
        ("5001", 5, "v--0000-0005--5001"),
        ("5001", "5", "v--0000-0005--5001"),
        ("5001", "p--0000-0005", "v--0000-0005--5001"),
        ("5001", ProjectSlug(5), "v--0000-0005--5001"),
        ("5001", 0, "v--0000-0000--5001"),
        (0x5001, 5, "v--0000-0005--5001"),
        (5001, 5, "v--0000-0005--1389"),  # an int is a number, not hex text (as in IOTile)
        ("1", 5, "v--0000-0005--0001"),
        ("0x5001", 5, "v--0000-0005--5001"),
        ("v--0000-0005--5001", None, "v--0000-0005--5001"),
        ("v--0000-0005--5001", 5, "v--0000-0005--5001"),
        ("v--5--5001", None, "v--0000-0005--5001"),
        ("V--0000-0005--500A", None, "v--0000-0005--500a"),
        ("v--0000-0000--5001", 7, "v--0000-0007--5001"),  # project 0 is a wildcard
        (VariableSlug("5001", 5), None, "v--0000-0005--5001"),
        (VariableSlug("5001"), 5, "v--0000-0005--5001"),
    ],
)
def test_variable_forms(
    form: int | str | VariableSlug, project: int | str | ProjectSlug | None, expected: str
) -> None:
    slug = VariableSlug(form, project)
    assert str(slug) == expected
    assert slug.id == slug.get_id() == int(slug) == int(expected[-4:], 16)
    assert slug.formatted_local_id() == expected[-4:]
    assert slug.formatted_id() == expected[3:]
    assert slug.project == ProjectSlug(expected[3:12])


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        (
            "s--0000-0005--0000-0000-0000-000a--5001",
            "s--0000-0005--0000-0000-0000-000a--5001",
        ),
        ("s--5--a--5001", "s--0000-0005--0000-0000-0000-000a--5001"),
        ("S--0X5--0XA--0x5001", "s--0000-0005--0000-0000-0000-000a--5001"),
        ("s----0000-0000-0000-000a--5001", "s--0000-0000--0000-0000-0000-000a--5001"),
        ("s--0000-0005----5001", "s--0000-0005--0000-0000-0000-0000--5001"),
    ],
)
def test_stream_from_string(form: str, expected: str) -> None:
    slug = StreamSlug(form)
    assert str(slug) == expected
    assert StreamSlug(slug) == slug
    assert slug.formatted_id() == expected[3:]


@pytest.mark.parametrize(
    ("project", "device", "variable"),
    [
        (5, 10, "5001"),
        ("5", "a", 0x5001),
        ("p--0000-0005", "d--000a", "v--0000-0005--5001"),
        (ProjectSlug(5), DeviceSlug(10), VariableSlug("5001", 5)),
        (ProjectSlug(5), DeviceSlug(10), VariableSlug("5001")),  # wildcard variable project
    ],
)
def test_stream_from_parts(project: object, device: object, variable: object) -> None:
    sid = StreamSlug().from_parts(project, device, variable)  # type: ignore[arg-type]
    assert str(sid) == "s--0000-0005--0000-0000-0000-000a--5001"
    parts = sid.get_parts()
    assert parts == {
        "project": ProjectSlug(5),
        "device": DeviceSlug(10),
        "variable": VariableSlug("5001", 5),
    }


@pytest.mark.parametrize("empty", [None, ""])
def test_stream_optional_project_and_device(empty: None | str) -> None:
    sid = StreamSlug().from_parts(project=empty, device=empty, variable="5001")
    assert str(sid) == "s--0000-0000--0000-0000-0000-0000--5001"
    assert sid.get_parts()["project"].id == 0


def test_from_parts_can_reset() -> None:
    sid = StreamSlug("s--0000-0001--0000-0000-0000-0002--0003")
    sid.from_parts(4, 5, 6)
    assert str(sid) == "s--0000-0004--0000-0000-0000-0005--0006"


def test_parse_gid_dispatches_on_letter() -> None:
    assert parse_gid("p--0005") == ProjectSlug(5)
    assert parse_gid("d--000a") == DeviceSlug(10)
    assert parse_gid("v--0000-0005--5001") == VariableSlug("5001", 5)
    assert parse_gid("s--5--a--5001") == StreamSlug("s--0000-0005--0000-0000-0000-000a--5001")
    assert type(parse_gid("s--5--a--5001")) is StreamSlug


# --------------------------------------------------------------------------- equality / hashing


def test_equality_and_hashing_by_canonical_string() -> None:
    assert ProjectSlug(5) == ProjectSlug("p--5") == ProjectSlug("0000-0005")
    assert ProjectSlug(5) != ProjectSlug(6)
    assert len({DeviceSlug(10), DeviceSlug("a"), DeviceSlug("d--000a")}) == 1
    # a slug equals its canonical string (so IOTile-style str comparisons keep working)
    assert ProjectSlug(5) == "p--0000-0005"
    assert hash(ProjectSlug(5)) == hash("p--0000-0005")
    assert ProjectSlug(5) != "p--0005"  # not canonical
    # same number, different types: never equal
    assert ProjectSlug(5) != DeviceSlug(5)
    assert ProjectSlug(5) != 5
    assert StreamSlug() == StreamSlug()
    assert repr(ProjectSlug(5)) == "ProjectSlug('p--0000-0005')"
    assert repr(StreamSlug()) == "StreamSlug(None)"


# --------------------------------------------------------------------------- rejection

MALFORMED = [
    (ProjectSlug, ""),
    (ProjectSlug, "p--"),
    (ProjectSlug, "d--0000-0005"),
    (ProjectSlug, "x--5"),
    (ProjectSlug, "p--0000--0005"),
    (ProjectSlug, "p--0000-0005--1"),
    (ProjectSlug, "000g"),
    (ProjectSlug, "0x"),
    (ProjectSlug, " 5"),
    (ProjectSlug, "5 "),
    (ProjectSlug, "+5"),
    (ProjectSlug, "-5"),
    (ProjectSlug, "5-"),
    (ProjectSlug, "1_0"),
    (ProjectSlug, "٥"),  # a non-ASCII digit
    (ProjectSlug, "1-0000-0000"),
    (ProjectSlug, "0000-0000-0005"),  # more digits than the field holds
    (ProjectSlug, 16**8),
    (ProjectSlug, -1),
    (ProjectSlug, True),
    (ProjectSlug, None),
    (ProjectSlug, 5.0),
    (ProjectSlug, b"5"),
    (ProjectSlug, DeviceSlug(5)),
    (DeviceSlug, ""),
    (DeviceSlug, "p--000a"),
    (DeviceSlug, "d--000a--1"),
    (DeviceSlug, "d--xyz"),
    (DeviceSlug, "1-0000-0000-0000-0000"),
    (DeviceSlug, 16**16),
    (DeviceSlug, -10),
    (DeviceSlug, False),
    (DeviceSlug, None),
    (DeviceSlug, ProjectSlug(10)),
    (VariableSlug, ""),
    (VariableSlug, "v--5001"),
    (VariableSlug, "s--0000-0005--5001"),
    (VariableSlug, "v--0000-0005--5001--1"),
    (VariableSlug, "v----5001"),
    (VariableSlug, "v--0000-0005--"),
    (VariableSlug, "v--0000-0005--50011"),
    (VariableSlug, "10000"),
    (VariableSlug, "500g"),
    (VariableSlug, 0x10000),
    (VariableSlug, -1),
    (VariableSlug, True),
    (VariableSlug, None),
    (StreamSlug, ""),
    (StreamSlug, "s--0000-0005--5001"),
    (StreamSlug, "p--0000-0005--0000-0000-0000-000a--5001"),
    (StreamSlug, "s--0000-0005--0000-0000-0000-000a--"),
    (StreamSlug, "s--0000-0005--0000-0000-0000-000a--10000"),
    (StreamSlug, "s--1-0000-0000--a--5001"),
    (StreamSlug, "s--5--1-0000-0000-0000-0000--5001"),
    (StreamSlug, "s--5--a--5001--1"),
    (StreamSlug, 5),
]


@pytest.mark.parametrize(("cls", "bad"), MALFORMED)
def test_malformed_input_raises_gid_error(cls: type, bad: object) -> None:
    with pytest.raises(GidError) as info:
        cls(bad)
    assert isinstance(info.value, ValueError)
    assert repr(bad) in str(info.value)  # the message names the bad input


@pytest.mark.parametrize(
    "bad", ["", "5", "0000-0005", "x--5", "--5", "P-5", "g--0000-0000-0001", None, 5]
)
def test_parse_gid_rejects(bad: object) -> None:
    with pytest.raises(GidError):
        parse_gid(bad)  # type: ignore[arg-type]


def test_variable_project_conflict() -> None:
    with pytest.raises(GidError, match="v--0000-0005--5001"):
        VariableSlug("v--0000-0005--5001", 6)
    with pytest.raises(GidError):
        VariableSlug(VariableSlug("5001", 5), ProjectSlug(6))
    with pytest.raises(GidError):
        VariableSlug("5001", "p--xyz")
    with pytest.raises(GidError):
        StreamSlug().from_parts(project=6, device=1, variable="v--0000-0005--5001")


@pytest.mark.parametrize(
    ("project", "device", "variable"),
    [(-1, 1, 1), (1, -1, 1), (1, 1, -1), (1, 1, None), (True, 1, 1), ("p--x", 1, 1)],
)
def test_from_parts_rejects(project: object, device: object, variable: object) -> None:
    with pytest.raises(GidError):
        StreamSlug().from_parts(project, device, variable)  # type: ignore[arg-type]


def test_empty_stream_slug() -> None:
    sid = StreamSlug()
    with pytest.raises(GidError, match="from_parts"):
        str(sid)
    with pytest.raises(GidError):
        sid.get_parts()


# --------------------------------------------------------------------------- properties


def forms(letter: str, n: int, digits: int) -> list[int | str]:
    full = grouped(n, digits)
    short = f"{n:x}"
    return [n, short, short.upper(), f"0x{short}", full, f"{letter}--{short}", f"{letter}--{full}"]


@quick
@given(PROJECT_IDS)
def test_project_round_trip(n: int) -> None:
    for form in forms("p", n, 8):
        slug = ProjectSlug(form)
        assert slug.id == n
        assert CANONICAL["p"].fullmatch(str(slug))
        again = parse_gid(str(slug))
        assert again == slug and isinstance(again, ProjectSlug) and again.id == n


@quick
@given(DEVICE_IDS)
def test_device_round_trip(n: int) -> None:
    for form in forms("d", n, 16):
        slug = DeviceSlug(form)
        assert slug.id == n
        assert CANONICAL["d"].fullmatch(str(slug))
        again = parse_gid(str(slug))
        assert again == slug and isinstance(again, DeviceSlug) and again.id == n


@quick
@given(VARIABLE_IDS, PROJECT_IDS)
def test_variable_round_trip(local: int, project: int) -> None:
    for form in (local, f"{local:x}", f"{local:04x}", f"0x{local:X}"):
        slug = VariableSlug(form, project)
        assert (slug.id, slug.project.id) == (local, project)
        assert CANONICAL["v"].fullmatch(str(slug))
        again = parse_gid(str(slug))
        assert isinstance(again, VariableSlug) and again == slug
        assert (again.id, again.project.id) == (local, project)
        assert VariableSlug(str(slug)) == slug == VariableSlug(slug, project)


@quick
@given(PROJECT_IDS, DEVICE_IDS, VARIABLE_IDS)
def test_stream_round_trip(project: int, device: int, local: int) -> None:
    sid = StreamSlug().from_parts(project=project, device=device, variable=local)
    text = str(sid)
    assert CANONICAL["s"].fullmatch(text)
    assert text == f"s--{grouped(project, 8)}--{grouped(device, 16)}--{local:04x}"
    again = parse_gid(text)
    assert isinstance(again, StreamSlug) and again == sid == StreamSlug(text)
    parts = again.get_parts()
    assert parts["project"].id == project
    assert parts["device"].id == device
    assert (parts["variable"].id, parts["variable"].project.id) == (local, project)
    rebuilt = StreamSlug().from_parts(parts["project"], parts["device"], parts["variable"])
    assert rebuilt == sid


@quick
@given(st.one_of(st.text(alphabet="0123456789abcdefABCDEFxXpdvsg- _", max_size=60), st.text()))
def test_arbitrary_text_is_canonical_or_gid_error(text: str) -> None:
    for parse in (ProjectSlug, DeviceSlug, VariableSlug, StreamSlug, parse_gid):
        try:
            slug = parse(text)
        except GidError:
            continue
        assert CANONICAL[str(slug)[0]].fullmatch(str(slug))
        assert parse_gid(str(slug)) == slug


# --------------------------------------------------------------------------- IOTile cross-check


def test_matches_iotile_cloud() -> None:
    """If the reference implementation is importable, outputs must match it exactly."""
    iotile = pytest.importorskip("iotile_cloud.utils.gid")

    @quick
    @given(
        PROJECT_IDS,
        st.integers(min_value=0, max_value=2**48 - 1),  # IOTile truncates int devices to 48 bits
        st.integers(min_value=1, max_value=16**4 - 1),  # IOTile rejects the int variable id 0
    )
    def check(project: int, device: int, local: int) -> None:
        pid, did, vid = grouped(project, 8), grouped(device, 16), f"{local:04x}"

        for form in (project, pid, f"p--{pid}", f"{project:x}"):
            assert str(ProjectSlug(form)) == str(iotile.IOTileProjectSlug(form))
        assert ProjectSlug(project).get_id() == iotile.IOTileProjectSlug(project).get_id()

        for form in (device, did, f"d--{did}", f"0x{device:x}"):
            assert str(DeviceSlug(form)) == str(iotile.IOTileDeviceSlug(form))
        assert DeviceSlug(did).get_id() == iotile.IOTileDeviceSlug(did).get_id()
        assert DeviceSlug(did).formatted_id() == iotile.IOTileDeviceSlug(did).formatted_id()

        theirs_project = iotile.IOTileProjectSlug(project)
        for form in (local, vid):
            ours = VariableSlug(form, ProjectSlug(project))
            theirs = iotile.IOTileVariableSlug(form, theirs_project)
            assert str(ours) == str(theirs)
            assert ours.formatted_local_id() == theirs.formatted_local_id()
            assert ours.formatted_id() == theirs.formatted_id()
        full = f"v--{pid}--{vid}"
        assert str(VariableSlug(full)) == str(iotile.IOTileVariableSlug(full))

        ours_sid = StreamSlug().from_parts(project=project, device=device, variable=vid)
        theirs_sid = iotile.IOTileStreamSlug()
        theirs_sid.from_parts(project=project, device=device, variable=vid)
        assert str(ours_sid) == str(theirs_sid)
        assert str(StreamSlug(str(theirs_sid))) == str(iotile.IOTileStreamSlug(str(ours_sid)))
        assert {k: str(v) for k, v in ours_sid.get_parts().items()} == theirs_sid.get_parts()
        assert ours_sid.get_parts() == theirs_sid.get_parts()  # slugs equal their canonical str

    check()
