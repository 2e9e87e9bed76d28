"""Units: a short and a full name, and an MDO (integer multiply, integer divide, float
offset) that turns a stored value into that unit: `value * m / d + o`.

A variable has an input unit (what devices send) and an output unit (what people see); a
stream may override either, field by field. The stream's effective `output_unit` is what
every face shows, and what `output_value` (the query API's) is computed with.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from cloudlet.server.core.errors import Invalid
from cloudlet.server.timeseries.codec import F64

FIELDS = ("unit_short", "unit_full", "m", "d", "o")
DEFAULT: dict[str, Any] = {"unit_short": "", "unit_full": "", "m": 1, "d": 1, "o": 0.0}


def columns(prefix: str, unit: dict[str, Any] | None) -> dict[str, Any]:
    """A unit given by a caller → its table columns (`out_m`, …), validated; only the
    fields it names."""
    if unit is None:
        return {}
    if not isinstance(unit, dict):
        raise Invalid(f"{prefix}put_unit must be an object with unit_short, unit_full, m, d, o.")
    unknown = set(unit) - set(FIELDS)
    if unknown:
        raise Invalid(f"Unknown unit field(s) {sorted(unknown)}; use {', '.join(FIELDS)}.")
    out: dict[str, Any] = {}
    for name in ("unit_short", "unit_full"):
        if name in unit:
            value = unit[name]
            limit = 20 if name == "unit_short" else 100
            if not isinstance(value, str) or len(value) > limit:
                raise Invalid(f"{name} must be a string of at most {limit} characters.")
            out[f"{prefix}_{name}"] = value
    for name in ("m", "d"):
        if name in unit:
            value = unit[name]
            if isinstance(value, bool) or not isinstance(value, int) or not (
                    -(2**31) < value < 2**31):
                raise Invalid(f"The unit's {name} must be an integer (32-bit).")
            if name == "d" and value == 0:
                raise Invalid("The unit's divisor d can't be 0.")
            out[f"{prefix}_{name}"] = value
    if "o" in unit:
        value = unit["o"]
        if isinstance(value, bool) or not isinstance(value, int | float) or not np.isfinite(
                value):
            raise Invalid("The unit's offset o must be a finite number.")
        out[f"{prefix}_o"] = float(value)
    return out


def of_row(row: Any, prefix: str, base: Any = None) -> dict[str, Any]:
    """The unit `prefix` of a row; with `base`, the row's non-null fields override it."""
    unit: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(row, f"{prefix}_{name}", None) if not isinstance(row, dict) else \
            row.get(f"{prefix}_{name}")
        if value is None and base is not None:
            value = base[name]
        unit[name] = DEFAULT[name] if value is None else value
    unit["o"] = float(unit["o"])
    return unit


def apply(values: F64, unit: dict[str, Any]) -> F64:
    """`value * m / d + o` for every value."""
    return values * unit["m"] / unit["d"] + unit["o"]
