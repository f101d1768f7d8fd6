"""The model card's recipes (fixtures/card/recipes.yaml): serve command, quick test, snippet, reproduce."""

from __future__ import annotations

import functools
import json
from pathlib import Path
from typing import Any

import yaml

from qcompat.fixtures import fixtures_dir


@functools.cache
def recipes() -> dict[str, Any]:
    return yaml.safe_load((fixtures_dir() / "card" / "recipes.yaml").read_text(encoding="utf-8"))


SNIPPET_NEW_TOKENS = 16


def card_snippet(checkpoint_path: Path, on_gpu: bool) -> str:
    """The card's snippet on the checkpoint under test: exactly as written on a GPU; without one, on the CPU
    and with fewer new tokens (the only changes)."""
    snippet = recipes()["transformers_snippet"]
    adapted = snippet.replace(f'"{recipes()["model_id"]}"', json.dumps(str(checkpoint_path)))
    assert adapted.count(str(checkpoint_path)) == 1 and snippet.count('"cuda"') == 2, "the card's snippet changed shape"
    if on_gpu:
        return adapted
    return adapted.replace('"cuda"', '"cpu"').replace("max_new_tokens=256", f"max_new_tokens={SNIPPET_NEW_TOKENS}")
