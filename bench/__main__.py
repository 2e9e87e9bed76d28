"""`make bench`: every benchmark, each printing its figures beside a reference run.

BENCH picks which (comma-separated names; default all): events, sql.
"""

from __future__ import annotations

import os
import sys

from bench import events, sql

BENCHES = {"events": events.main, "sql": sql.main}


def main() -> None:
    chosen = os.environ.get("BENCH", ",".join(BENCHES)).split(",")
    unknown = set(chosen) - set(BENCHES)
    if unknown:
        raise SystemExit(f"unknown benchmarks {sorted(unknown)}; choose from {sorted(BENCHES)}")
    for name in chosen:
        BENCHES[name](sys.argv[1:])


if __name__ == "__main__":
    main()
