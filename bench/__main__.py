"""`make bench`: every benchmark, each printing its figures beside a reference run.
`BENCH_ONLY=events,timeseries,queries` picks which (default: all)."""

from __future__ import annotations

import os
import sys

from bench import datasets, events, files, queries, sql, timeseries, writer

BENCHES = {"events": events.main, "timeseries": timeseries.main, "files": files.main,
           "datasets": datasets.main, "sql": sql.main, "queries": queries.main,
           "writer": writer.main}


def main() -> None:
    chosen = [b.strip() for b in os.environ.get("BENCH_ONLY", ",".join(BENCHES)).split(",")]
    unknown = [b for b in chosen if b not in BENCHES]
    if unknown:
        sys.exit(f"unknown benchmark(s) {unknown}; choose from {', '.join(BENCHES)}")
    for name in chosen:
        BENCHES[name](sys.argv[1:])


if __name__ == "__main__":
    main()
