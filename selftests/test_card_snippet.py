"""The card's transformers snippet runs exactly as written on a GPU; without one only its device and length change."""

from __future__ import annotations

import json
from pathlib import Path

from qcompat.suite.card import SNIPPET_NEW_TOKENS, card_snippet, recipes

CHECKPOINT = Path("/models/gemma")


def test_on_a_gpu_the_snippet_is_the_cards_with_only_the_checkpoint_named():
    written = recipes()["transformers_snippet"]
    assert card_snippet(CHECKPOINT, on_gpu=True) == written.replace(
        f'"{recipes()["model_id"]}"', json.dumps(str(CHECKPOINT))
    )
    assert 'device_map="cuda"' in written and "max_new_tokens=256" in written


def test_without_a_gpu_only_the_device_and_the_length_change():
    adapted = card_snippet(CHECKPOINT, on_gpu=False)
    assert '"cuda"' not in adapted and adapted.count('"cpu"') == 2
    assert f"max_new_tokens={SNIPPET_NEW_TOKENS}" in adapted
    gpu = card_snippet(CHECKPOINT, on_gpu=True)
    assert adapted == gpu.replace('"cuda"', '"cpu"').replace(
        "max_new_tokens=256", f"max_new_tokens={SNIPPET_NEW_TOKENS}"
    )
