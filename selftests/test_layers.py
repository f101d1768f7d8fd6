"""The packages follow the flow, and no import runs upward: a stage imports only the stages below it (lazy imports
inside functions count too), so the tree reads as the data flow."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "qcompat"
# Lowest first: what a checkpoint is, what it holds, what is known about stacks, what the index holds, running the
# engines, how far a checkpoint's distributions are from its base's, what a run found, the pytest plugin, the command
# line.
LAYERS = [
    "errors",
    "fixtures",
    "inputs",
    "env",
    "checkpoint",
    "inspection",
    "registry",
    "upstream",
    "engines",
    "quality",
    "results",
    "suite",
    "cli",
]
BASE = {"errors", "fixtures", "inputs"}  # used by every stage


def stage(module: str) -> str:
    return module.split(".")[1] if module.count(".") else "__init__"


def imports(path: Path) -> list[tuple[int, str]]:
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("qcompat"):
            names = [node.module] if node.module != "qcompat" else [f"qcompat.{a.name}" for a in node.names]
            found += [(node.lineno, name) for name in names]
        elif isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.startswith("qcompat.")]
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_is_in_a_stage():
    stages = {path.relative_to(PACKAGE).parts[0].removesuffix(".py") for path in MODULES} - {"__init__"}
    assert stages <= set(LAYERS), stages - set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_import_runs_upward(path: Path):
    own = path.relative_to(PACKAGE).parts[0].removesuffix(".py")
    if own == "__init__":
        return
    upward = [
        f"line {line}: {name}"
        for line, name in imports(path)
        if stage(name) not in BASE and LAYERS.index(stage(name)) > LAYERS.index(own)
    ]
    assert upward == [], f"{path.relative_to(PACKAGE)} imports a later stage: {upward}"
