"""Point types for building writes: `DataPoint`, `Timestamp`, `TimeUnit`, `DataSeries`, `DataStore`.

They carry the iobeam-style conventions devices are written against: a bare int timestamp is
milliseconds, no timestamp is "now". Every type turns into the server's columnar series form
in integer microseconds (the server's own resolution), so `client.write_points` takes them
with no precision to state.
"""

from __future__ import annotations

import enum
import math
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

__all__ = ["DataPoint", "DataSeries", "DataStore", "TimeUnit", "Timestamp", "is_points",
           "points_body"]


class TimeUnit(enum.Enum):
    """The unit of an integer timestamp; the value is the server's `precision=` name."""

    SECONDS = "s"
    MILLISECONDS = "ms"
    MICROSECONDS = "us"
    NANOSECONDS = "ns"


_MICROS = {TimeUnit.SECONDS: 1_000_000, TimeUnit.MILLISECONDS: 1_000,
           TimeUnit.MICROSECONDS: 1, TimeUnit.NANOSECONDS: 0}


class Timestamp:
    """An integer time in a stated unit (milliseconds unless told)."""

    __slots__ = ("unit", "value")

    def __init__(self, value: int, unit: TimeUnit = TimeUnit.MILLISECONDS) -> None:
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"A timestamp is an int, not {type(value).__name__}.")
        if not isinstance(unit, TimeUnit):
            raise TypeError("unit must be a cloudlet.TimeUnit.")
        self.value = value
        self.unit = unit

    @classmethod
    def now(cls) -> Timestamp:
        return cls(time.time_ns() // 1_000, TimeUnit.MICROSECONDS)

    def micros(self) -> int:
        """The time in microseconds, the server's resolution (nanoseconds are floored)."""
        factor = _MICROS[self.unit]
        return self.value * factor if factor else self.value // 1_000

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Timestamp) and self.micros() == other.micros()

    def __hash__(self) -> int:
        return hash(self.micros())

    def __repr__(self) -> str:
        return f"Timestamp({self.value}, TimeUnit.{self.unit.name})"


def _timestamp(value: Timestamp | int | None) -> Timestamp:
    if value is None:
        return Timestamp.now()
    if isinstance(value, Timestamp):
        return value
    return Timestamp(value)  # a bare int is milliseconds; anything else raises TypeError


def _value(value: Any) -> Any:
    """Points are float64 on the server (bools as 1/0), so only numbers pass; None is
    "no point" in a DataStore row and refused by `DataPoint`."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            raise ValueError(f"A point's value must be finite, not {value}.")
        return value
    raise TypeError(f"A point's value is a number or bool, not {type(value).__name__}.")


class DataPoint:
    """One value at one time; `timestamp` is a `Timestamp`, an int of milliseconds, or None
    for now."""

    __slots__ = ("timestamp", "value")

    def __init__(self, value: Any, timestamp: Timestamp | int | None = None) -> None:
        if value is None:
            raise TypeError("A DataPoint needs a value.")
        self.value = _value(value)
        self.timestamp = _timestamp(timestamp)

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, DataPoint) and self.value == other.value
                and self.timestamp == other.timestamp)

    def __hash__(self) -> int:
        return hash((self.value, self.timestamp))

    def __repr__(self) -> str:
        return f"DataPoint({self.value!r}, {self.timestamp!r})"


def _series_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"A series name is a non-empty string, not {name!r}.")
    return name


class DataSeries:
    """A named run of points for one series."""

    def __init__(self, name: str, points: Iterable[DataPoint] = ()) -> None:
        self.name = _series_name(name)
        self.points: list[DataPoint] = []
        for point in points:
            self.add(point)

    def add(self, point: DataPoint) -> None:
        if not isinstance(point, DataPoint):
            raise TypeError(f"DataSeries holds DataPoints, not {type(point).__name__}.")
        self.points.append(point)

    def __len__(self) -> int:
        return len(self.points)

    def __iter__(self) -> Iterator[DataPoint]:
        return iter(self.points)

    def columns(self) -> dict[str, list[Any]]:
        """The server's columnar form, times in microseconds."""
        return {"time": [p.timestamp.micros() for p in self.points],
                "value": [p.value for p in self.points]}


class DataStore:
    """Table-shaped points: fixed columns, rows of values sharing one time each.

    A None cell is "no point" for that column in that row, as in the server's table form."""

    def __init__(self, columns: Sequence[str]) -> None:
        names = [_series_name(c) for c in columns]
        if not names:
            raise ValueError("A DataStore needs at least one column.")
        if len(set(names)) != len(names) or "time" in names:
            raise ValueError("DataStore columns must be distinct and not named 'time'.")
        self.columns = names
        self.rows: list[tuple[Timestamp, list[Any]]] = []

    def add(self, values: Mapping[str, Any] | Sequence[Any],
            timestamp: Timestamp | int | None = None) -> None:
        """One row: a mapping by column (missing columns are None) or a sequence in order."""
        if isinstance(values, Mapping):
            unknown = set(values) - set(self.columns)
            if unknown:
                raise ValueError(f"Unknown DataStore columns: {sorted(unknown)}.")
            row = [values.get(c) for c in self.columns]
        else:
            row = list(values)
            if len(row) != len(self.columns):
                raise ValueError(f"A row needs {len(self.columns)} values, got {len(row)}.")
        self.rows.append((_timestamp(timestamp), [_value(v) for v in row]))

    def __len__(self) -> int:
        return len(self.rows)

    def series(self) -> Iterator[DataSeries]:
        """The rows as one `DataSeries` per column, dropping None cells."""
        for index, name in enumerate(self.columns):
            yield DataSeries(name, [DataPoint(row[index], ts) for ts, row in self.rows
                                    if row[index] is not None])


PointsLike = DataSeries | DataStore | Iterable[DataSeries | DataStore]


def is_points(data: Any) -> bool:
    """Whether `data` is made of this module's types (and so goes through `points_body`)."""
    if isinstance(data, DataSeries | DataStore):
        return True
    if isinstance(data, list | tuple) and data:
        return all(isinstance(d, DataSeries | DataStore) for d in data)
    return False


def points_body(data: PointsLike, device: str | None = None) -> dict[str, Any]:
    """The JSON series document for `data`; points of one series are merged in order."""
    items = [data] if isinstance(data, DataSeries | DataStore) else list(data)
    merged: dict[str, dict[str, list[Any]]] = {}
    for item in items:
        for one in item.series() if isinstance(item, DataStore) else [item]:
            columns = one.columns()
            into = merged.setdefault(one.name, {"time": [], "value": []})
            into["time"].extend(columns["time"])
            into["value"].extend(columns["value"])
    body: dict[str, Any] = {"series": {k: v for k, v in merged.items() if v["time"]}}
    if device is not None:
        body["device"] = device
    return body
