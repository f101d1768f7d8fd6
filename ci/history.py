"""Carry earlier nights' results forward, so tonight's HTML matrix shows each check over the last nights.

    python ci/history.py BASELINE RESULTS [--keep 14]

BASELINE is last good night's artifact (its results/*.json and its history/); RESULTS gets history/<night>/ for
each of them, newest last, at most KEEP. Prints the history folders, oldest first, for --history.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

from qcompat.errors import QcompatError
from qcompat.results.files import first_started, load_all


def night_of(directory: Path) -> str:
    return time.strftime("%Y-%m-%dT%H%MZ", time.gmtime(first_started(load_all(directory)) or 0))


def carry(baseline: Path, results: Path, keep: int) -> list[Path]:
    nights = {path.name: path for path in sorted((baseline / "history").glob("*")) if list(path.glob("*.json"))}
    nights[night_of(baseline)] = baseline
    history = results / "history"
    carried = []
    for name in sorted(nights)[-keep:]:
        target = history / name
        target.mkdir(parents=True, exist_ok=True)
        for file in nights[name].glob("*.json"):
            shutil.copy2(file, target / file.name)
        carried.append(target)
    return carried


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("baseline", type=Path)
    parser.add_argument("results", type=Path)
    parser.add_argument("--keep", type=int, default=14)
    args = parser.parse_args(argv)
    try:
        carried = carry(args.baseline, args.results, args.keep)
    except QcompatError as exc:
        print(f"history: {exc}", file=sys.stderr)
        return 2
    print(" ".join(str(path) for path in carried))
    return 0


if __name__ == "__main__":
    sys.exit(main())
