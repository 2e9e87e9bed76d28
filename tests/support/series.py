"""A small, known time-series project for query tests: what was written, to check reads
against by brute force."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

T0_MS = 1_704_067_200_000  # 2024-01-01T00:00:00Z
STEP_MS = 60_000  # a point a minute
N = 180  # three hours
M, D, OFFSET = 9, 5, 32.0  # temp's output unit: Celsius → Fahrenheit


def output(value: float, m: int = M, d: int = D, o: float = OFFSET) -> float:
    """What the server computes for `output_value`, in the same order."""
    return value * m / d + o


@dataclass
class Seeded:
    project: int
    roof_temp: str  # stream gids
    yard_temp: str
    yard_hum: str
    points: dict[str, list[tuple[int, float]]]  # gid → [(epoch ms, value)], oldest first

    def of(self, gid: str) -> list[tuple[int, float]]:
        return self.points[gid]


def seed(client: Any, project: int) -> Seeded:
    """Writes with an SDK `Client`: devices roof (temp) and yard (temp, hum), N points each;
    temp has an output unit (F, m=9, d=5, o=32), hum none."""
    client.post(f"/projects/{project}/variables", {
        "name": "temp", "output_unit": {"unit_short": "F", "unit_full": "Fahrenheit",
                                         "m": M, "d": D, "o": OFFSET}})
    times = [T0_MS + i * STEP_MS for i in range(N)]
    written = {
        ("roof", "temp"): [i * 0.5 for i in range(N)],
        ("yard", "temp"): [100.0 - i for i in range(N)],
        ("yard", "hum"): [float(i % 7) for i in range(N)],
    }
    for device in ("roof", "yard"):
        series = {name: {"time": times, "value": values}
                  for (dev, name), values in written.items() if dev == device}
        client.write_points(project, {"device": device, "series": series}, precision="ms")
    gids: dict[tuple[str, str], str] = {}
    for stream in client.paginate(f"/projects/{project}/streams"):
        gids[(stream["device_key"], stream["series"])] = stream["gid"]
    points = {gids[key]: list(zip(times, values, strict=True)) for key, values in written.items()}
    return Seeded(project, gids[("roof", "temp")], gids[("yard", "temp")],
                  gids[("yard", "hum")], points)
