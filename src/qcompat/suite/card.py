"""The model card's recipes (fixtures/card/recipes.yaml): serve command, quick test, snippet, reproduce."""

from __future__ import annotations

import functools
from typing import Any

import yaml

from qcompat.fixtures import fixtures_dir


@functools.cache
def recipes() -> dict[str, Any]:
    return yaml.safe_load((fixtures_dir() / "card" / "recipes.yaml").read_text(encoding="utf-8"))
