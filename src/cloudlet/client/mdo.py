"""`MdoHelper`: seed 002's multiply/divide/offset conversion, `value * m / d + o`.

A unit (a variable's or a stream's `input_unit` / `output_unit`) carries an integer multiply
`m`, an integer divide `d` and a float offset `o`; the server computes every point's
`output_value` with the stream's output unit in this same order, so the helper gives the
same float for the same value.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["MdoHelper"]


class MdoHelper:
    """Convert stored values into a unit: `MdoHelper(m, d, o).compute(value)`."""

    __slots__ = ("d", "m", "o")

    def __init__(self, m: int = 1, d: int = 1, o: float = 0.0) -> None:
        for name, given in (("m", m), ("d", d)):
            if isinstance(given, bool) or not isinstance(given, int):
                raise TypeError(f"The unit's {name} is an int, not {type(given).__name__}.")
        if d == 0:
            raise ValueError("The unit's divisor d can't be 0.")
        self.m = m
        self.d = d
        self.o = float(o)

    @classmethod
    def from_unit(cls, unit: Mapping[str, Any] | None) -> MdoHelper:
        """The helper of a unit object as the API gives it (missing fields: 1, 1, 0.0)."""
        unit = unit or {}
        return cls(m=unit.get("m", 1), d=unit.get("d", 1), o=unit.get("o", 0.0))

    def compute(self, value: float) -> float:
        return value * self.m / self.d + self.o

    compute_value = compute  # the name seed 002's example uses

    def compute_all(self, values: Iterable[float]) -> list[float]:
        return [self.compute(v) for v in values]

    def __eq__(self, other: object) -> bool:
        return isinstance(other, MdoHelper) and (self.m, self.d, self.o) == (
            other.m, other.d, other.o)

    def __hash__(self) -> int:
        return hash((self.m, self.d, self.o))

    def __repr__(self) -> str:
        return f"MdoHelper(m={self.m}, d={self.d}, o={self.o})"
