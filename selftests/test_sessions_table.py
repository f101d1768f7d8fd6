"""One table names the sessions: their tags, the main job's order and which gates require them
(stacks/sessions.toml); the noxfile, ci/ and the workflows read it."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from qcompat.env import sessions

REPO = Path(__file__).resolve().parents[1]
TABLE = sessions.load(REPO)


def nox_functions() -> set[str]:
    """The session functions the noxfile defines (read, not imported: nox is not in this venv)."""
    tree = ast.parse((REPO / "noxfile.py").read_text())
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef) and any("nox.session" in ast.unparse(d) for d in node.decorator_list)
    }


def test_every_session_in_the_table_is_a_nox_session():
    assert {name.split("(")[0] for name in TABLE} <= nox_functions()


def test_the_main_job_runs_the_suite_sessions_in_the_tables_order():
    assert sessions.tagged(TABLE, "suite") == [
        "static",
        "transformers",
        "stable",
        "legacy",
        "v027(transformers-5.16.1)",
        "v027(transformers-5.14.1)",
        "nightly",
    ]


def test_each_gate_requires_what_the_table_says_by_results_name():
    assert sessions.required(TABLE, "pr") == [
        "static",
        "transformers",
        "stable",
        "legacy",
        "v027-transformers-5.16.1",
        "v027-transformers-5.14.1",
    ]
    assert sessions.required(TABLE, "nightly") == ["transformers", "nightly"]
    assert sessions.required(TABLE, "release") == ["static", "transformers", "stable", "nightly"]


def test_the_ci_scripts_ask_the_table_from_the_command_line():
    done = subprocess.run(
        [sys.executable, "-m", "qcompat.env.sessions", "required", "release"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (done.returncode, done.stdout.strip()) == (0, "static,transformers,stable,nightly")
    wrong = subprocess.run(
        [sys.executable, "-m", "qcompat.env.sessions", "required", "weekly"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    assert wrong.returncode == 2 and "no job 'weekly'; the jobs are pr, nightly, release" in wrong.stderr


def test_a_table_naming_an_unknown_job_is_refused(tmp_path: Path):
    (tmp_path / "stacks").mkdir()
    (tmp_path / "stacks" / "sessions.toml").write_text('[static]\ntags = ["cpu"]\nrequired_by = ["weekly"]\n')
    with pytest.raises(sessions.SessionsError, match=r"\[static\] required_by names \['weekly'\]"):
        sessions.load(tmp_path)
