"""The campaign's report from the runs logged under RUN_LOG (one JSON file per case):

    python -m selftests.support.bad_input.report [OUT]     (default OUT: /tmp/bad_input_report.txt)

Totals by class, each failing case (id, command, exit, its first problem) grouped by cause, and for every planted
safetensors header what the safetensors library said next to what qcompat said.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter, defaultdict
from pathlib import Path

from selftests.support.bad_input import RUN_LOG


def cause(problem: str, stderr: str = "") -> str:
    """A failure's first problem as a cause to group by."""
    if problem.startswith("error is") and ("it/s]" in stderr or "Fetching" in stderr):
        return "exit 2 with a progress bar on stderr before the error line"
    if problem.startswith("hang"):
        return "hang (no exit within the timeout)"
    if problem.startswith("DIFFERS"):
        return "accepts a file the safetensors library refuses (exit 0)"
    if problem.startswith("traceback"):
        error = problem.split(": ", 1)[1] if ": " in problem else problem
        return "traceback: " + re.split(r"[:(]", error, maxsplit=1)[0].strip()
    if problem.startswith("wrong exit"):
        return "wrong exit " + problem.split()[2].rstrip(",")
    if problem.startswith("error is"):
        return "exit 2 with more than one line on stderr"
    if problem.startswith("error does not start"):
        return "exit 2 without the one 'qcompat: error:' line"
    if problem.startswith("error names none"):
        return "exit 2 without naming the file or URL"
    if problem.startswith("error names"):
        return "exit 2 naming the wrong cause"
    if problem.startswith("error does not name"):
        return "exit 2 without naming what it must"
    if problem.startswith("--json on exit 2"):
        return (
            "--json on exit 2: stdout is not {error, exit_code: 2} (empty)"
            if problem.endswith("''")
            else "--json on exit 2: stdout is not {error, exit_code: 2}"
        )
    if problem.startswith("--json stdout is not JSON"):
        return "--json: stdout is not JSON"
    return problem.split(":")[0]


def first_stderr_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines and "Traceback" in text else (lines[0].strip() if lines else "")


def shown(command: list[str]) -> str:
    """The command as a user types it: qcompat ARGS (after setpriv ... when it ran as nobody)."""
    if "qcompat.cli" in command:
        at = command.index("qcompat.cli")
        command = [*command[: at - 2], "qcompat", *command[at + 1 :]]
    return " ".join(part if re.fullmatch(r"[\w@%+=:,./-]+", part) else json.dumps(part) for part in command)


def build(log: Path = RUN_LOG) -> str:
    runs = [json.loads(path.read_text()) for path in sorted(log.glob("*.json"))]
    failing = [r for r in runs if r["problems"]]
    by_group: dict[str, Counter] = defaultdict(Counter)
    for r in runs:
        by_group[r["group"]]["failed" if r["problems"] else "passed"] += 1
    out = [
        "qcompat bad-input campaign (selftests/test_bad_input.py)",
        f"runs logged: {len(runs)} (cases; a +json id is the same input with --json), "
        + f"passed {len(runs) - len(failing)}, failed {len(failing)}",
        f"distinct inputs: {len({r['id'].removesuffix('+json') for r in runs})}",
        "",
        "by class: cases / passed / failed",
    ]
    for group in sorted(by_group):
        counts = by_group[group]
        out.append(f"  {group:10} {sum(counts.values()):4} {counts['passed']:5} {counts['failed']:5}")
    grouped: dict[str, list[dict]] = defaultdict(list)
    for r in failing:
        grouped[cause(r["problems"][0], r["stderr"])].append(r)
    out += ["", "failing cases by cause (first problem):"]
    for name, members in sorted(grouped.items(), key=lambda item: -len(item[1])):
        out.append(f"  {name}: {len(members)}")
    for name, members in sorted(grouped.items(), key=lambda item: -len(item[1])):
        out += ["", f"== {name} ({len(members)}) =="]
        for r in members:
            command = shown(r["command"])
            out.append(f"- {r['id']}")
            out.append(f"    command: {command}")
            out.append(f"    exit: {'hang' if r['returncode'] is None else r['returncode']} (expected {r['expect']})")
            out.append(f"    problem: {r['problems'][0]}")
            for more in r["problems"][1:]:
                out.append(f"    also: {more}")
            line = first_stderr_line(r["stderr"])
            if line:
                out.append(f"    stderr: {line[:300]}")
    oracle = [r for r in runs if r.get("oracle") and not r["id"].endswith("+json")]
    if oracle:
        out += [
            "",
            "safetensors headers: what the library said / what qcompat said "
            + "(DIFFER: library refuses, qcompat 0; STRICTER: library accepts, qcompat 2)",
        ]
        for r in oracle:
            said = r["oracle"]
            code = r["returncode"]
            qcompat = "hang" if code is None else f"exit {code}"
            mark = ""
            if said["refused"] and code == 0:
                mark = "DIFFER "
            elif not said["refused"] and code == 2:
                mark = "STRICTER "
            line = first_stderr_line(r["stderr"]) if code == 2 or "Traceback" in r["stderr"] else ""
            out.append(f"- {mark}{r['id']}")
            out.append(f"    library: {said['message']}")
            out.append(f"    qcompat: {qcompat}" + (f": {line[:240]}" if line else ""))
    return "\n".join(out) + "\n"


def main() -> None:
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("/tmp/bad_input_report.txt")
    target.write_text(build())
    print(f"wrote {target}")


if __name__ == "__main__":
    main()
