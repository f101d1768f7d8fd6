"""The mutation driver makes each kind of mutant it promises, one change at a time, and picks the selftests that
reach the mutated lines."""

from __future__ import annotations

import ast
from pathlib import Path

from selftests.mutation import Mutant, mutants_of, mutated_source, score, selected_tests

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
        "src/qcompat/x.py": {10: {"selftests.test_a.test_one"}, 11: {"selftests.test_b.TestK.test_two"}, 12: {"z"}}
    }
    assert selected_tests(mutant, lines) == ["selftests/test_a.py::test_one", "selftests/test_b.py::TestK::test_two"]
    assert selected_tests(Mutant("src/qcompat/y.py", 0, 1, 1, "f", "c"), lines) == []


def test_equivalent_mutants_leave_the_score():
    from selftests.mutation import Outcome

    mutant = Mutant("m.py", 0, 1, 1, "f", "c")
    outcomes = [Outcome(mutant, "killed", 1), Outcome(mutant, "timeout", 1), Outcome(mutant, "survived", 1),
                Outcome(mutant, "survived", 1, equivalent="formatting only")]  # fmt: skip
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
