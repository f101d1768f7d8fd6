"""On a GPU one vLLM server fits at a time: the suite runs every test that starts its own server before the
session's kept server comes up, and the harness refuses a second server on a held device."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def collected(tmp_path: Path, marker: str) -> list[dict]:
    out = tmp_path / "order.json"
    run = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests",
            "--collect-only",
            "-q",
            "-m",
            marker,
            "-p",
            "selftests.support.collected_order",
            "-p",
            "no:cacheprovider",
        ],
        cwd=ROOT,
        env={**os.environ, "QCOMPAT_COLLECTED": str(out)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("marker", ["vllm and not canary", "gpu", "vllm"])
def test_tests_with_their_own_servers_run_before_the_kept_server_starts(tmp_path, marker):
    order = collected(tmp_path, marker)
    kept = [i for i, t in enumerate(order) if t["kept_server"]]
    own = [i for i, t in enumerate(order) if not t["kept_server"]]
    assert kept and own, f"both kinds are selected by -m {marker!r}"
    assert max(own) < min(kept), [t["test"] for t in order]


def test_the_flashinfer_sampler_servers_start_before_the_kept_server_measures_the_load(tmp_path):
    names = [t["test"].split("::")[1] for t in collected(tmp_path, "gpu")]
    samplers = [i for i, n in enumerate(names) if n.startswith("test_flashinfer_sampler_setting")]
    assert len(samplers) == 3
    assert max(samplers) < names.index("test_model_loads_in_about_11_gib")
