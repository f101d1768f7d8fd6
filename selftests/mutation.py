"""Mutation testing of the verdict logic: how many small changes to a module do the selftests notice?

    python -m selftests.mutation src/qcompat/parity.py ... [--jobs N] [--min-score 90] [--json FILE]

Each mutant changes one thing (a comparison flipped, `and`/`or` swapped, a condition negated, a number
moved by one, a return value replaced by None, a statement deleted) in a copy of the package, and runs the
selftests that reach the mutated lines (measured once with coverage, per test) with the copy first on
PYTHONPATH, so the selftests' own subprocesses import the mutant too. A mutant is killed when a selftest
fails or times out, and survives when they all pass. Survivors judged equivalent (they cannot change
behaviour) are listed with the reason in selftests/mutation_equivalents.yaml and left out of the score.
Exit 0 when every module scores at least --min-score, 1 when one does not, 2 when the selftests fail
unmutated or coverage is not installed.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "src" / "qcompat"
EQUIVALENTS = Path(__file__).with_name("mutation_equivalents.yaml")
SELFTESTS = ["selftests", "--ignore", "selftests/stacks"]
PYTEST = ["-x", "-q", "-p", "no:cacheprovider", "-o", "addopts=", "--no-header"]

FLIPPED_COMPARISONS = {
    ast.Lt: ast.LtE,
    ast.LtE: ast.Lt,
    ast.Gt: ast.GtE,
    ast.GtE: ast.Gt,
    ast.Eq: ast.NotEq,
    ast.NotEq: ast.Eq,
    ast.In: ast.NotIn,
    ast.NotIn: ast.In,
    ast.Is: ast.IsNot,
    ast.IsNot: ast.Is,
}
SWAPPED_ARITHMETIC = {
    ast.Add: ast.Sub,
    ast.Sub: ast.Add,
    ast.Mult: ast.FloorDiv,
    ast.FloorDiv: ast.Mult,
    ast.Div: ast.Mult,
}
SYMBOLS = {
    ast.Lt: "<",
    ast.LtE: "<=",
    ast.Gt: ">",
    ast.GtE: ">=",
    ast.Eq: "==",
    ast.NotEq: "!=",
    ast.In: "in",
    ast.NotIn: "not in",
    ast.Is: "is",
    ast.IsNot: "is not",
    ast.Add: "+",
    ast.Sub: "-",
    ast.Mult: "*",
    ast.FloorDiv: "//",
    ast.Div: "/",
    ast.And: "and",
    ast.Or: "or",
}


@dataclass
class Mutant:
    module: str  # path relative to the repository
    number: int  # its place in the module's enumeration
    line: int
    end_line: int
    function: str  # qualified name of the enclosing function or class, or <module>
    change: str
    source: str = field(default="", repr=False)  # the module as it was read: editing it mid-run changes nothing

    @property
    def key(self) -> str:
        """Stable while code around it moves: names the function and the change, not the line."""
        return f"{self.module}::{self.function}: {self.change}"


@dataclass
class Outcome:
    mutant: Mutant
    status: str  # killed | survived | timeout
    tests: int  # how many selftest functions ran against it (0: every selftest)
    equivalent: str | None = None


def _is_none(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and node.value is None


def _short(node: ast.AST) -> str:
    text = ast.unparse(node).replace("\n", " ")
    return text if len(text) <= 70 else text[:67] + "..."


class _Points:
    """Every mutation of a module, in a fixed order; `apply` changes the parsed tree in place."""

    def __init__(self, tree: ast.Module):
        self.found: list[tuple[ast.AST, str, str, Callable[[], None]]] = []  # node, function, change, apply
        self._scope: list[str] = []
        self._visit(tree)

    def _add(self, node: ast.AST, change: str, apply: Callable[[], None]) -> None:
        self.found.append((node, ".".join(self._scope) or "<module>", change, apply))

    def _visit(self, node: ast.AST) -> None:
        named = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
        if named:
            self._scope.append(node.name)
        self._mutations_of(node)
        for field_name, value in ast.iter_fields(node):
            if field_name in ("decorator_list", "returns", "annotation", "type_comment"):
                continue
            if isinstance(value, list):
                for index, item in enumerate(value):
                    if isinstance(item, ast.stmt):
                        self._deletion(value, index)
                    if isinstance(item, ast.AST):
                        self._visit(item)
            elif isinstance(value, ast.AST):
                self._visit(value)
        if named:
            self._scope.pop()

    def _deletion(self, body: list[ast.stmt], index: int) -> None:
        statement = body[index]
        skipped = (
            ast.FunctionDef,
            ast.AsyncFunctionDef,
            ast.ClassDef,
            ast.Import,
            ast.ImportFrom,
            ast.Pass,
            ast.Return,
            ast.Global,
            ast.Nonlocal,
        )
        docstring = isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant)
        if isinstance(statement, skipped) or docstring:
            return

        def apply() -> None:
            body[index] = ast.copy_location(ast.Pass(), statement)

        self._add(statement, f"delete `{_short(statement)}`", apply)

    def _mutations_of(self, node: ast.AST) -> None:
        if isinstance(node, ast.Compare):
            for i, op in enumerate(node.ops):
                if type(op) in FLIPPED_COMPARISONS:
                    new = FLIPPED_COMPARISONS[type(op)]
                    change = f"`{SYMBOLS[type(op)]}` -> `{SYMBOLS[new]}` in `{_short(node)}`"
                    self._add(node, change, lambda ops=node.ops, i=i, new=new: ops.__setitem__(i, new()))
        elif isinstance(node, ast.BoolOp):
            new = ast.Or if isinstance(node.op, ast.And) else ast.And
            change = f"`{SYMBOLS[type(node.op)]}` -> `{SYMBOLS[new]}` in `{_short(node)}`"
            self._add(node, change, lambda node=node, new=new: setattr(node, "op", new()))
        elif isinstance(node, ast.BinOp) and type(node.op) in SWAPPED_ARITHMETIC:
            new = SWAPPED_ARITHMETIC[type(node.op)]
            change = f"`{SYMBOLS[type(node.op)]}` -> `{SYMBOLS[new]}` in `{_short(node)}`"
            self._add(node, change, lambda node=node, new=new: setattr(node, "op", new()))
        elif isinstance(node, ast.Constant) and type(node.value) in (int, float, bool):
            new = (not node.value) if isinstance(node.value, bool) else node.value + 1
            self._add(node, f"{node.value!r} -> {new!r}", lambda node=node, new=new: setattr(node, "value", new))
        elif isinstance(node, ast.Return) and node.value is not None and not _is_none(node.value):
            change = f"`{_short(node)}` -> `return None`"
            self._add(node, change, lambda node=node: setattr(node, "value", ast.Constant(None)))
        if isinstance(node, ast.If | ast.While | ast.IfExp):
            self._negation(node, "test")
        elif isinstance(node, ast.comprehension):
            for i in range(len(node.ifs)):
                self._negation(node.ifs, i)

    def _negation(self, holder: ast.AST | list, slot: str | int) -> None:
        get = (lambda: holder[slot]) if isinstance(holder, list) else (lambda: getattr(holder, slot))
        test = get()

        def apply() -> None:
            new = (
                test.operand
                if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not)
                else ast.UnaryOp(ast.Not(), test)
            )
            if isinstance(holder, list):
                holder[slot] = new
            else:
                setattr(holder, slot, new)

        self._add(test, f"negate `{_short(test)}`", apply)


def mutants_of(path: Path) -> list[Mutant]:
    source = path.read_text(encoding="utf-8")
    module = str(path.resolve().relative_to(REPO)) if path.resolve().is_relative_to(REPO) else str(path)
    seen: Counter[tuple[str, str]] = Counter()
    mutants = []
    for number, (node, function, change, _apply) in enumerate(_Points(ast.parse(source)).found):
        seen[function, change] += 1
        change += f" (#{seen[function, change]})" if seen[function, change] > 1 else ""  # keys stay unique
        mutants.append(Mutant(module, number, node.lineno, node.end_lineno or node.lineno, function, change, source))
    return mutants


def mutated_source(mutant: Mutant) -> str:
    tree = ast.parse(mutant.source)
    _node, _function, _change, apply = _Points(tree).found[mutant.number]
    apply()
    return ast.unparse(ast.fix_missing_locations(tree)) + "\n"


def _environment(source_root: Path) -> dict[str, str]:
    path = os.pathsep.join([str(source_root), os.environ.get("PYTHONPATH", "")])
    # No bytecode caches: two mutants of one size written in the same second would share a stale .pyc.
    env = dict(os.environ, PYTHONPATH=path, PYTHONDONTWRITEBYTECODE="1")
    env.pop("PYTEST_ADDOPTS", None)
    return env


def tests_by_line(scratch: Path) -> dict[str, dict[int, set[str]]]:
    """Which selftest functions execute each line of the package, by coverage's per-test contexts."""
    try:
        from coverage import CoverageData
    except ImportError:
        raise SystemExit("mutation: coverage is not installed (nox -s mutation installs it)") from None
    rc = scratch / "coveragerc"
    rc.write_text(f"[run]\nsource = {PACKAGE}\ndata_file = {scratch / 'coverage'}\n")
    command = [
        sys.executable,
        "-m",
        "coverage",
        "run",
        f"--rcfile={rc}",
        "-m",
        "pytest",
        *SELFTESTS,
        *PYTEST,
        "-p",
        "selftests.support.coverage_contexts",
    ]
    print("mutation: measuring which selftests reach which lines (one unmutated run under coverage)", flush=True)
    result = subprocess.run(
        command, check=False, cwd=REPO, env=_environment(REPO / "src"), capture_output=True, text=True
    )
    if result.returncode != 0:
        print(result.stdout[-3000:], result.stderr[-3000:], sep="\n")
        raise SystemExit("mutation: the selftests fail without any mutant; fix them first")
    data = CoverageData(str(scratch / "coverage"))
    data.read()
    return {
        str(Path(measured).resolve().relative_to(REPO)): {
            line: {context for context in contexts if context}
            for line, contexts in data.contexts_by_lineno(measured).items()
        }
        for measured in data.measured_files()
    }


def selected_tests(mutant: Mutant, lines: dict[str, dict[int, set[str]]]) -> list[str]:
    """The node ids of the selftests that reach the mutant's lines (selftests.support.coverage_contexts)."""
    reached = lines.get(mutant.module, {})
    return sorted(set().union(*(reached.get(n, set()) for n in range(mutant.line, mutant.end_line + 1))))


def status_of(returncode: int) -> str:
    """pytest's exit code as the mutant's fate: 0 survived; 1 (a test failed), 2 (a test module no longer
    imports: collection errors) and 3 (a conftest no longer imports: internal error) killed; 4 (usage: a node id
    that does not exist) and 5 (no tests) mean the selection could not run, which proves nothing."""
    return {0: "survived", 1: "killed", 2: "killed", 3: "killed"}.get(returncode, "error")


def _run(mutant: Mutant, trees: queue.Queue, lines: dict, timeout: float) -> Outcome:
    tree = trees.get()
    try:
        target = tree / mutant.module.removeprefix("src/")
        target.write_text(mutated_source(mutant), encoding="utf-8")
        tests = selected_tests(mutant, lines)
        try:
            status = _pytest_status(tests or SELFTESTS, tree, timeout)
            if status == "error" and tests:
                # A node id pytest no longer finds because the mutant broke its module's import (exit 4): the
                # modules themselves then fail to collect, which is the mutant being caught.
                status = _pytest_status(sorted({test.split("::")[0] for test in tests}), tree, timeout)
        except subprocess.TimeoutExpired:
            status = "timeout"
        finally:
            target.write_text(mutant.source, encoding="utf-8")
        return Outcome(mutant, status, len(tests))
    finally:
        trees.put(tree)


def _pytest_status(selection: list[str], tree: Path, timeout: float) -> str:
    command = [sys.executable, "-m", "pytest", *selection, *PYTEST]
    result = subprocess.run(
        command, check=False, cwd=REPO, env=_environment(tree), capture_output=True, timeout=timeout
    )
    return status_of(result.returncode)


def _source_tree(scratch: Path, number: int) -> Path:
    """A copy of src/ whose fixtures resolve to the repository's (qcompat.fixtures looks two levels up)."""
    root = scratch / f"tree{number}"
    shutil.copytree(PACKAGE, root / "src" / "qcompat", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "fixtures").symlink_to(REPO / "fixtures")
    return root / "src"


def load_equivalents() -> dict[str, str]:
    if not EQUIVALENTS.is_file():
        return {}
    return {entry["mutant"]: entry["why"] for entry in yaml.safe_load(EQUIVALENTS.read_text()) or []}


def score(outcomes: list[Outcome]) -> tuple[int, int, float]:
    counted = [o for o in outcomes if o.equivalent is None]
    killed = sum(o.status in ("killed", "timeout") for o in counted)
    return killed, len(counted), 100.0 * killed / len(counted) if counted else 100.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m selftests.mutation", description=__doc__.split("\n\n")[0])
    parser.add_argument("modules", nargs="+", type=Path)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--min-score", type=float, default=90.0)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per mutant before it counts as killed")
    parser.add_argument("--json", type=Path, help="write every outcome here")
    args = parser.parse_args(argv)
    equivalents = load_equivalents()
    with tempfile.TemporaryDirectory(prefix="qcompat-mutation-") as name:
        scratch = Path(name)
        lines = tests_by_line(scratch)
        trees: queue.Queue[Path] = queue.Queue()
        for number in range(args.jobs):
            trees.put(_source_tree(scratch, number))
        mutants = [m for path in args.modules for m in mutants_of(path)]
        print(f"mutation: {len(mutants)} mutants of {len(args.modules)} modules, {args.jobs} at a time", flush=True)
        started, outcomes = time.monotonic(), []
        with ThreadPoolExecutor(args.jobs) as pool:
            for done, outcome in enumerate(pool.map(lambda m: _run(m, trees, lines, args.timeout), mutants), 1):
                outcome.equivalent = equivalents.get(outcome.mutant.key)
                outcomes.append(outcome)
                if done % 25 == 0 or done == len(mutants):
                    print(f"mutation: {done}/{len(mutants)} in {time.monotonic() - started:.0f} s", flush=True)
    return _report(outcomes, args, equivalents)


def _report(outcomes: list[Outcome], args: argparse.Namespace, equivalents: dict[str, str]) -> int:
    failing = []
    for module in dict.fromkeys(o.mutant.module for o in outcomes):
        mine = [o for o in outcomes if o.mutant.module == module]
        killed, counted, percent = score(mine)
        statuses = Counter(o.status for o in mine)
        print(
            f"\n{module}: {percent:.1f}% ({killed} of {counted} non-equivalent mutants killed; "
            f"{len(mine)} run, {statuses['timeout']} by timeout, {len(mine) - counted} equivalent)"
        )
        for o in mine:
            if o.status == "error":
                print(
                    f"  ERROR (pytest could not run the selection): {o.mutant.module}:{o.mutant.line} "
                    f"{o.mutant.key.split('::', 1)[1]}"
                )
            if o.status == "survived":
                mark = "equivalent" if o.equivalent else "SURVIVED"
                reached = f"{o.tests} tests" if o.tests else "all selftests"
                print(f"  {mark}: {o.mutant.module}:{o.mutant.line} {o.mutant.key.split('::', 1)[1]} ({reached})")
        if percent < args.min_score:
            failing.append(module)
    unused = set(equivalents) - {o.mutant.key for o in outcomes if o.status == "survived"}
    modules = {str(p.resolve().relative_to(REPO)) for p in args.modules}
    for key in sorted(k for k in unused if k.split("::")[0] in modules):
        print(f"  stale equivalent (no such surviving mutant): {key}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        rows = [
            {
                "key": o.mutant.key,
                "line": o.mutant.line,
                "status": o.status,
                "tests": o.tests,
                "equivalent": o.equivalent,
            }
            for o in outcomes
        ]
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    if failing:
        print(f"\nmutation: below {args.min_score:.0f}%: {', '.join(failing)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
