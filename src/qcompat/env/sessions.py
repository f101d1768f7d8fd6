"""The sessions table (stacks/sessions.toml): each nox session's tags and the jobs whose gate requires it, in the
main job's order. Standard library only: the noxfile reads it before any venv exists, and ci/ scripts call

    python -m qcompat.env.sessions required JOB     # the sessions JOB's gate requires, as results names: a,b,c
"""

from __future__ import annotations

import re
import sys
import tomllib
from pathlib import Path

JOBS = ("pr", "nightly", "release")


class SessionsError(Exception):
    """The table cannot be read or names something unknown; the message says which."""


def session_name(nox_session: str) -> str:
    """v027(transformers-5.16.1) -> v027-transformers-5.16.1: a nox session's name in results/, the matrix and CI."""
    return re.sub(r"[^\w.]+", "-", nox_session).strip("-")


def load(root: Path) -> dict[str, dict]:
    path = root / "stacks" / "sessions.toml"
    try:
        table = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SessionsError(f"{path}: {exc}") from None
    for name, entry in table.items():
        unknown = set(entry.get("required_by", [])) - set(JOBS)
        if unknown:
            raise SessionsError(f"{path}: [{name}] required_by names {sorted(unknown)}; the jobs are {', '.join(JOBS)}")
    return table


def tagged(table: dict[str, dict], tag: str) -> list[str]:
    """The nox sessions with `tag`, in the table's order."""
    return [name for name, entry in table.items() if tag in entry.get("tags", [])]


def tags_of(table: dict[str, dict], function: str) -> list[str]:
    """The tags of a nox session function: those of its sessions (a parametrized one's are alike)."""
    found = [entry.get("tags", []) for name, entry in table.items() if name.split("(")[0] == function]
    return found[0] if found else []


def required(table: dict[str, dict], job: str) -> list[str]:
    """The results names of the sessions `job`'s gate requires."""
    if job not in JOBS:
        raise SessionsError(f"no job {job!r}; the jobs are {', '.join(JOBS)}")
    return [session_name(name) for name, entry in table.items() if job in entry.get("required_by", [])]


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] != "required":
        print("usage: python -m qcompat.env.sessions required JOB", file=sys.stderr)
        return 2
    root = Path.cwd()
    try:
        print(",".join(required(load(root), argv[1])))
    except SessionsError as exc:
        print(f"sessions: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
