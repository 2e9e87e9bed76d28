"""`make bench`: every benchmark, each printing its figures beside a reference run."""

from __future__ import annotations

import sys

from bench import datasets, events


def main() -> None:
    events.main(sys.argv[1:])
    datasets.main(sys.argv[1:])


if __name__ == "__main__":
    main()
