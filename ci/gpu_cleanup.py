"""Stop the servers a killed job left behind, then say whether the GPU is free. Run before and after each GPU job.

    python ci/gpu_cleanup.py [--grace 10] [--logs-under DIR]

Servers carry QCOMPAT_SERVER (their harness's pid and their log) in their environment; each one whose harness
is gone has its whole process group stopped (SIGTERM, then SIGKILL). Exit 0 when the GPU is free (or there is
none), 2 when a server would not stop or another process still holds the GPU: that one is not ours, so it is
named and left alone.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from qcompat.engines.processes import gpu_holders, leftover_groups, stop_group


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--grace", type=float, default=10.0, help="seconds between SIGTERM and SIGKILL")
    parser.add_argument(
        "--logs-under",
        type=Path,
        metavar="DIR",
        default=os.environ.get("QCOMPAT_CLEANUP_UNDER"),
        help="only servers whose log lies under DIR (default: $QCOMPAT_CLEANUP_UNDER, else every server left behind)",
    )
    args = parser.parse_args(argv)
    leftovers = leftover_groups()
    if args.logs_under:
        leftovers = {pgid: log for pgid, log in leftovers.items() if Path(log).is_relative_to(args.logs_under)}
    stuck = []
    for pgid, log in sorted(leftovers.items()):
        if stop_group(pgid, args.grace):
            print(f"gpu-cleanup: stopped the server group {pgid} (its log: {log})")
        else:
            stuck.append(pgid)
            print(f"gpu-cleanup: could not stop the server group {pgid} (its log: {log})")
    if not leftovers:
        print("gpu-cleanup: no server was left running")
    holders = gpu_holders()
    if holders:
        print(f"gpu-cleanup: the GPU is still held by {', '.join(holders)}: stop it by hand")
    return 2 if stuck or holders else 0


if __name__ == "__main__":
    sys.exit(main())
