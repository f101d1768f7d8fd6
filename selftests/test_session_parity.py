"""Greedy parity across the sessions of one run and against the last good run: shown beside the matrix, and a
divergence fails the gate naming the session, the prompt and the token."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from qcompat.cli import main
from qcompat.fixtures import fixtures_dir

GOLDEN = json.loads(next((fixtures_dir() / "goldens").glob("hf-int4-*.json")).read_text())
IDENTITY = GOLDEN["checkpoint"]["identity"]


def greedy(run: str, results: list[dict] | None = None, identity: str = IDENTITY) -> dict:
    return {
        "run": run,
        "identity": identity,
        "stack": {"x": "1"},
        "max_new_tokens": 16,
        "top_k": 5,
        "results": copy.deepcopy(results or GOLDEN["results"]),
    }


def write(directory: Path, session: str, *runs: dict) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    data = {
        "format": 1,
        "session": session,
        "checkpoint": {"path": "tiny/int4", "identity": IDENTITY},
        "probe": {"packages": {}, "gpus": []},
        "started": 0,
        "seconds": 1,
        "checks": [{"check": "tests/vllm/test_serve.py::test_x", "outcome": "passed"}],
        "notes": [],
        "greedy": list(runs),
    }
    (directory / f"{session}.json").write_text(json.dumps(data))
    return directory


def changed_token(run: dict, prompt: int, step: int) -> dict:
    """The same run with one generated token replaced by one in neither side's top-k."""
    changed = copy.deepcopy(run)
    result = changed["results"][prompt]
    result["generated_ids"][step] = 100_000 + result["generated_ids"][step]
    return changed


@pytest.fixture
def tonight(tmp_path: Path) -> Path:
    directory = write(tmp_path / "tonight", "stable", greedy("vllm-int4"))
    return write(directory, "transformers", greedy("hf-int4"), greedy("hf-bf16", identity="f" * 64))


def test_report_shows_the_parity_of_sessions_on_the_same_checkpoint_and_prompts(tonight, capsys):
    assert main(["report", str(tonight), "--json"]) == 0
    parity = json.loads(capsys.readouterr().out)["parity"]
    prompts = len(GOLDEN["results"])
    assert [pair["line"].split(";")[0] for pair in parity["pairs"]] == [
        f"stable vllm-int4 vs transformers hf-int4: {prompts} identical"
    ]
    assert parity["runs"] == {"stable": ["vllm-int4"], "transformers": ["hf-int4", "hf-bf16"]}


def test_report_prints_the_parity_section_under_the_matrix(tonight, capsys):
    assert main(["report", str(tonight)]) == 0
    out = capsys.readouterr().out
    assert "Greedy parity between sessions" in out
    assert "stable vllm-int4 vs transformers hf-int4:" in out


def test_gate_passes_when_tonight_matches_the_baseline(tonight, tmp_path, capsys):
    baseline = write(tmp_path / "baseline", "stable", greedy("vllm-int4"))
    assert main(["gate", str(tonight), "--baseline", str(baseline)]) == 0
    out = capsys.readouterr().out
    assert "gate: baseline: stable vllm-int4 vs stable vllm-int4:" in out
    assert (
        f"gate: baseline: transformers hf-int4: no baseline run of checkpoint {IDENTITY[:12]} with the same prompts"
        in out.splitlines()
    )


def test_gate_fails_on_a_divergence_from_the_baseline_naming_session_prompt_and_token(tonight, tmp_path, capsys):
    baseline = write(tmp_path / "baseline", "stable", changed_token(greedy("vllm-int4"), prompt=1, step=3))
    assert main(["gate", str(tonight), "--baseline", str(baseline)]) == 1
    out = capsys.readouterr().out
    prompt = GOLDEN["results"][1]["prompt"]
    token = GOLDEN["results"][1]["generated_ids"][3]
    assert (
        f"gate: stable vllm-int4 diverged from the baseline's stable vllm-int4 on prompt 2 {prompt!r} at token 3 "
        f"(token {100_000 + token} vs {token}; not in each other's top-k)"
    ) in out.splitlines()


def test_gate_fails_when_two_sessions_of_tonight_diverge(tmp_path, capsys):
    directory = write(tmp_path / "tonight", "stable", changed_token(greedy("vllm-int4"), prompt=0, step=0))
    write(directory, "transformers", greedy("hf-int4"))
    assert main(["gate", str(directory)]) == 1
    assert "gate: transformers hf-int4 diverged from session stable vllm-int4 on prompt 1" in capsys.readouterr().out


def test_a_token_inside_the_other_top_k_is_close_and_passes(tmp_path, capsys):
    run = greedy("vllm-int4")
    result = run["results"][0]
    alternative = next(tid for tid, _ in result["top_logprobs"][2] if tid != result["generated_ids"][2])
    result["generated_ids"][2] = alternative
    result["top_logprobs"][2] = [[alternative, -0.1], *[p for p in result["top_logprobs"][2] if p[0] != alternative]]
    directory = write(tmp_path / "tonight", "stable", run)
    write(directory, "transformers", greedy("hf-int4"))
    assert main(["gate", str(directory)]) == 0
    capsys.readouterr()
    main(["report", str(directory), "--json"])
    (pair,) = json.loads(capsys.readouterr().out)["parity"]["pairs"]
    assert "1 close" in pair["line"] and "at token 2" in pair["line"]


def test_unreadable_greedy_in_a_results_file_is_exit_2_naming_it(tmp_path, capsys):
    directory = write(tmp_path / "tonight", "stable", {"run": "vllm-int4"})
    assert main(["report", str(directory)]) == 2
    assert "stable.json: results file has no greedy[0].identity (a string)" in capsys.readouterr().err


def test_runs_of_different_prompts_are_not_compared(tmp_path, capsys):
    fewer = greedy("hf-int4", results=GOLDEN["results"][:-1])
    directory = write(tmp_path / "tonight", "stable", greedy("vllm-int4"))
    write(directory, "transformers", fewer)
    assert main(["gate", str(directory)]) == 0
    capsys.readouterr()
    main(["report", str(directory), "--json"])
    assert json.loads(capsys.readouterr().out)["parity"]["pairs"] == []
