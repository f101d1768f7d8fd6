"""The PR workflow's job matrix: one job per session that `nox -t cpu` runs, the report left to the final job.

    python ci/pr_matrix.py          # prints {"include": [{"session": ..., "artifact": ...}, ...]}

On GitHub it also writes `matrix=<that JSON>` to $GITHUB_OUTPUT for `fromJSON` in the workflow.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from qcompat.env.sessions import session_name

MERGED_BY_THE_FINAL_JOB = {"report"}


def jobs(listing: list[dict]) -> list[dict[str, str]]:
    return [
        {"session": entry["session"], "artifact": f"results-{session_name(entry['session'])}"}
        for entry in listing
        if entry["name"] not in MERGED_BY_THE_FINAL_JOB
    ]


def main() -> int:
    listed = subprocess.run(["nox", "-l", "--json", "-t", "cpu"], capture_output=True, text=True, check=False)
    if listed.returncode != 0:
        print(f"pr-matrix: `nox -l --json -t cpu` exited {listed.returncode}: {listed.stderr.strip()}", file=sys.stderr)
        return 2
    matrix = json.dumps({"include": jobs(json.loads(listed.stdout))})
    print(matrix)
    if os.environ.get("GITHUB_OUTPUT"):
        with open(os.environ["GITHUB_OUTPUT"], "a") as output:
            output.write(f"matrix={matrix}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
