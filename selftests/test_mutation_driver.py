"""The mutation driver makes each kind of mutant it promises, one change at a time, and picks the selftests that
reach the mutated lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from selftests.mutation import Mutant, mutants_of, mutated_source, score, selected_tests, status_of

SOURCE = '''"""Docstring."""
import os

LIMIT = 3


def judge(a, b, items):
    """Only its code is mutated."""
    if a < b and not items:
        return "low"
    total = a + b
    print(total)
    return [x for x in items if x in (1, 2)]
'''


def test_every_kind_of_mutant_is_made_once_per_place(tmp_path: Path):
    path = tmp_path / "module.py"
    path.write_text(SOURCE)
    changes = [m.change for m in mutants_of(path)]
    assert changes == [
        "delete `LIMIT = 3`",
        "3 -> 4",
        "delete `if a < b and (not items):     return 'low'`",
        "negate `a < b and (not items)`",
        "`and` -> `or` in `a < b and (not items)`",
        "`<` -> `<=` in `a < b`",
        "`return 'low'` -> `return None`",
        "delete `total = a + b`",
        "`+` -> `-` in `a + b`",
        "delete `print(total)`",
        "`return [x for x in items if x in (1, 2)]` -> `return None`",
        "negate `x in (1, 2)`",
        "`in` -> `not in` in `x in (1, 2)`",
        "1 -> 2",
        "2 -> 3",
    ]
    assert {m.function for m in mutants_of(path)} == {"<module>", "judge"}


def test_a_mutant_changes_exactly_one_thing(tmp_path: Path):
    path = tmp_path / "module.py"
    path.write_text(SOURCE)
    mutants = {m.change: m for m in mutants_of(path)}
    original = ast.dump(ast.parse(SOURCE))
    flipped = mutated_source(mutants["`<` -> `<=` in `a < b`"])
    assert "a <= b and (not items)" in flipped
    assert ast.dump(ast.parse(flipped.replace("a <= b", "a < b"))) == original
    negated = mutated_source(mutants["negate `x in (1, 2)`"])
    assert "if not x in (1, 2)" in negated


def test_tests_are_selected_by_the_lines_a_mutant_spans():
    mutant = Mutant("src/qcompat/x.py", 0, 10, 11, "f", "delete `y`")
    lines = {
        "src/qcompat/x.py": {
            10: {"selftests/test_a.py::test_one[int4]"},
            11: {"selftests/test_b.py::TestK::test_two"},
            12: {"selftests/test_c.py::test_three"},
        }
    }
    assert selected_tests(mutant, lines) == [
        "selftests/test_a.py::test_one[int4]",
        "selftests/test_b.py::TestK::test_two",
    ]
    assert selected_tests(Mutant("src/qcompat/y.py", 0, 1, 1, "f", "c"), lines) == []


def test_coverage_records_each_line_under_the_node_id_of_the_test_that_ran_it(tmp_path: Path):
    """Even through hypothesis, whose own `test_function` coverage's test_function contexts would name."""
    pytest.importorskip(
        "coverage", reason="not run: coverage is installed by nox -s mutation, whose first run runs this"
    )
    import subprocess
    import sys

    from selftests.mutation import REPO

    (tmp_path / "code.py").write_text("def double(x):\n    return 2 * x\n")
    (tmp_path / "test_code.py").write_text(
        "from hypothesis import given, settings, strategies as st\nfrom code import double\n\n"
        "@settings(max_examples=3)\n@given(st.integers())\ndef test_doubles(x):\n    assert double(x) == x + x\n"
    )
    rc = tmp_path / "rc"
    rc.write_text(f"[run]\nsource = {tmp_path}\ndata_file = {tmp_path / 'cov'}\n")
    env = {"PYTHONPATH": f"{tmp_path}:{REPO}", "PATH": "/usr/bin:/bin"}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "coverage",
            "run",
            f"--rcfile={rc}",
            "-m",
            "pytest",
            "-q",
            "-p",
            "selftests.support.coverage_contexts",
            "-p",
            "no:cacheprovider",
            str(tmp_path / "test_code.py"),
        ],
        cwd=tmp_path,
        env=env,
        check=True,
        capture_output=True,
    )
    from coverage import CoverageData

    data = CoverageData(str(tmp_path / "cov"))
    data.read()
    contexts = data.contexts_by_lineno(str(tmp_path / "code.py"))[2]
    assert contexts == ["test_code.py::test_doubles"]


def test_only_a_failing_test_kills_a_mutant():
    from selftests.mutation import Outcome

    assert [status_of(code) for code in (0, 1, 2, 3, 4, 5)] == [
        "survived",
        "killed",
        "killed",
        "killed",
        "error",
        "error",
    ]
    mutant = Mutant("m.py", 0, 1, 1, "f", "c")
    assert score([Outcome(mutant, "killed", 1), Outcome(mutant, "error", 1)]) == (1, 2, 50.0)


def test_equivalent_mutants_leave_the_score():
    from selftests.mutation import Outcome

    mutant = Mutant("m.py", 0, 1, 1, "f", "c")
    outcomes = [
        Outcome(mutant, "killed", 1),
        Outcome(mutant, "timeout", 1),
        Outcome(mutant, "survived", 1),
        Outcome(mutant, "survived", 1, equivalent="formatting only"),
    ]
    assert score(outcomes) == (2, 3, 200 / 3)


def test_the_same_change_twice_in_one_function_gets_distinct_keys(tmp_path: Path):
    path = tmp_path / "module.py"
    path.write_text("def f(p):\n    p.mkdir(parents=True, exist_ok=True)\n")
    keys = [m.key for m in mutants_of(path) if "True -> False" in m.change]
    assert [k.split("::")[1] for k in keys] == ["f: True -> False", "f: True -> False (#2)"]


def test_every_equivalent_mutant_listed_is_still_made():
    from selftests.mutation import REPO, load_equivalents

    listed = load_equivalents()
    modules = {key.split("::")[0] for key in listed}
    made = {m.key for module in modules for m in mutants_of(REPO / module)}
    assert sorted(set(listed) - made) == [], "selftests/mutation_equivalents.yaml names mutants the code no longer has"
    assert all(why.strip() for why in listed.values())
