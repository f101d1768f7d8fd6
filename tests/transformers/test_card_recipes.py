"""The card's own transformers snippet and reproduce command, run on the checkpoint under test."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from qcompat.suite.card import SNIPPET_NEW_TOKENS, card_snippet, recipes

pytestmark = pytest.mark.transformers


def test_card_transformers_snippet_runs_as_written(checkpoint_path: Path, notes):
    import torch

    on_gpu = torch.cuda.is_available()
    result = subprocess.run(
        [sys.executable, "-c", card_snippet(checkpoint_path, on_gpu)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.endswith("\n"), "the snippet prints the decoded answer"
    notes.append(
        "the card's transformers snippet ran exactly as written (device_map cuda)"
        if on_gpu
        else "the card's transformers snippet ran on the CPU (no GPU): cuda -> cpu, "
        f"max_new_tokens {SNIPPET_NEW_TOKENS}"
    )


def _auto_round() -> list[str]:
    script = Path(sys.executable).with_name("auto-round")
    return [str(script)] if script.exists() else [sys.executable, "-m", "auto_round"]


def test_card_reproduce_command_gives_this_checkpoint_bit_exactly(
    checkpoint_path: Path, base_path: Path, tmp_path: Path, stack, notes
):
    """Packed tensors bit for bit; kept tensors by value, since the CPU decides auto-round's float dtype."""
    from qcompat.checkpoint.local import read_checkpoint
    from qcompat.inspection.tensordiff import compare

    command = [
        *_auto_round(),
        "--model",
        str(base_path.resolve()),
        *recipes()["reproduce"]["args"],
        "--output_dir",
        str(tmp_path / "out"),
    ]
    result = subprocess.run(
        command,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert result.returncode == 0, f"auto-round failed:\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    (produced,) = [p for p in (tmp_path / "out").iterdir() if p.is_dir()]
    fresh = read_checkpoint(produced)
    dtype = json.loads((produced / "config.json").read_text()).get("dtype")
    scale_dtypes = sorted({r.dtype for n, r in fresh.tensors.items() if n.endswith(".scales")})
    notes.append(
        f"today's auto-round writes scales as {'/'.join(scale_dtypes)} and config dtype {dtype}, "
        "unlike the published I32/BF16 layout"
    )
    comparison = compare(read_checkpoint(checkpoint_path), fresh)
    if comparison.widened:
        cpu = stack.cpu.label() if stack.cpu else "an unprobed CPU"
        notes.append(
            f"auto-round on this CPU ({cpu}) wrote {comparison.widened_summary()}: "
            "a fact about the machine (no native BF16 in torch), not about the checkpoint"
        )
    assert comparison.differences == [], "re-quantizing the base does not give this checkpoint:\n" + "\n".join(
        d.line() for d in comparison.differences
    )
