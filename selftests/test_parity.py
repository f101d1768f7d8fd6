"""Greedy parity says identical, close or diverged exactly as its rules do, on outputs made to differ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qcompat.engines.greedy import Greedy
from qcompat.errors import QcompatError
from qcompat.results.parity import GOLDEN_FORMAT, Golden, compare, compare_all

PROMPT_IDS = [2, 10, 11]


def greedy(tokens: list[int], tops: list[list[tuple[int, float]]] | None = None, prompt: str = "p") -> Greedy:
    """A greedy run: by default each chosen token is top-1 at logprob -0.1, then token 900 at -5."""
    tops = tops if tops is not None else [[(t, -0.1), (900, -5.0)] for t in tokens]
    return Greedy(prompt, list(PROMPT_IDS), tokens, "text", tops)


def test_identical_tokens_are_identical_with_the_largest_chosen_logprob_delta():
    a = greedy([5, 6, 7], [[(5, -0.1)], [(6, -0.2)], [(7, -0.3)]])
    b = greedy([5, 6, 7], [[(5, -0.15)], [(6, -0.2)], [(7, -0.05)]])
    result = compare(a, b)
    assert (result.verdict, result.first_divergence) == ("identical", None)
    assert result.max_logprob_delta == pytest.approx(0.25)
    assert result.line() == "identical, max logprob delta 0.2500: 'p'"


def test_steps_whose_chosen_token_is_not_in_a_top_k_add_no_delta():
    a = greedy([5, 6], [[(5, -0.1)], [(900, -0.1)]])
    b = greedy([5, 6], [[(5, -0.3)], [(6, -9.0)]])
    assert compare(a, b).max_logprob_delta == pytest.approx(0.2)
    assert compare(greedy([5], [[]]), greedy([5], [[]])).max_logprob_delta == 0.0


def test_a_divergence_where_each_token_is_in_the_others_top_k_is_close():
    a = greedy([5, 6, 7], [[(5, -0.1)], [(6, -0.69), (8, -0.70)], [(7, -0.1)]])
    b = greedy([5, 8, 7], [[(5, -0.1)], [(8, -0.69), (6, -0.70)], [(7, -0.1)]])
    result = compare(a, b)
    assert (result.verdict, result.first_divergence) == ("close", 1)
    assert result.detail == "token 6 vs 8; each in the other's top-k"
    assert result.line() == "close at token 1: 'p' token 6 vs 8; each in the other's top-k"


@pytest.mark.parametrize("inside", ["a", "b"])
def test_a_divergence_inside_only_one_sides_top_k_is_diverged(inside: str):
    with_both = [(6, -0.69), (8, -0.70)]
    a = greedy([5, 6], [[(5, -0.1)], with_both if inside == "a" else [(6, -0.1)]])
    b = greedy([5, 8], [[(5, -0.1)], with_both[::-1] if inside == "b" else [(8, -0.1)]])
    result = compare(a, b)
    assert (result.verdict, result.first_divergence) == ("diverged", 1)
    assert result.detail == "token 6 vs 8; not in each other's top-k"


def test_a_divergence_outside_both_top_k_is_diverged_and_comparison_stops_there():
    a = greedy([5, 6, 7, 7])
    b = greedy([5, 8, 9, 9])
    result = compare(a, b)
    assert (result.verdict, result.first_divergence, result.max_logprob_delta) == ("diverged", 1, None)


def test_only_the_first_divergence_counts():
    a = greedy([4, 6, 7], [[(4, -0.1), (5, -0.2)], [(6, -0.1)], [(7, -0.1)]])
    b = greedy([5, 8, 7], [[(5, -0.1), (4, -0.2)], [(8, -0.1)], [(7, -0.1)]])
    assert (compare(a, b).verdict, compare(a, b).first_divergence) == ("close", 0)


def test_a_divergence_at_a_step_without_top_logprobs_is_diverged():
    a = greedy([5, 6], [[(5, -0.1)]])
    b = greedy([5, 8], [[(5, -0.1)]])
    assert compare(a, b).verdict == "diverged"


@pytest.mark.parametrize("longer", ["a", "b"])
def test_one_side_stopping_early_is_diverged_where_the_shorter_one_ends(longer: str):
    long, short = greedy([5, 6, 7]), greedy([5, 6])
    a, b = (long, short) if longer == "a" else (short, long)
    result = compare(a, b)
    assert (result.verdict, result.first_divergence) == ("diverged", 2)
    assert result.detail == f"one side stopped: {len(a.generated_ids)} vs {len(b.generated_ids)} tokens"


def test_different_prompt_ids_diverge_at_token_zero():
    a, b = greedy([5]), greedy([5])
    b.prompt_ids = [2, 10, 12]
    result = compare(a, b)
    assert (result.verdict, result.first_divergence) == ("diverged", 0)
    assert "different prompt ids: [2, 10, 11] vs [2, 10, 12]" in result.detail


def test_the_summary_counts_each_verdict_and_keeps_the_largest_delta():
    golden = [greedy([5, 6], prompt="one"), greedy([5, 6], prompt="two"), greedy([5, 6], prompt="three")]
    found = [
        greedy([5, 6], [[(5, -0.4)], [(6, -0.1)]], prompt="one"),
        greedy([5, 6], [[(5, -0.1)], [(6, -0.2)]], prompt="two"),
        greedy([5, 7], prompt="three"),
    ]
    summary = compare_all(golden, found)
    assert summary.verdicts == {"identical": 2, "close": 0, "diverged": 1}
    assert summary.max_logprob_delta == pytest.approx(0.3)
    first, *lines = summary.text().splitlines()
    assert first == "2 identical, 0 close, 1 diverged; max logprob delta 0.3000"
    assert lines[2].startswith("diverged at token 1: 'three'")


def test_runs_of_different_prompt_sets_are_refused():
    with pytest.raises(QcompatError, match="different prompt sets"):
        compare_all([greedy([5], prompt="one")], [greedy([5], prompt="two")])
    with pytest.raises(QcompatError, match="different prompt sets"):
        compare_all([greedy([5], prompt="one")], [])


def _golden(identity: str = "abc123") -> Golden:
    return Golden("hf-int4", {"transformers": "5.23.0"}, {"identity": identity}, 2, 5, [greedy([5, 6])])


def test_a_saved_golden_loads_as_it_was(tmp_path: Path):
    path = tmp_path / "new" / "goldens" / "hf-int4-abc123.json"
    _golden().save(path)
    assert Golden.load(path, identity="abc123") == _golden()


def test_a_golden_recorded_for_another_checkpoint_is_refused(tmp_path: Path):
    path = tmp_path / "hf-int4-abc123.json"
    _golden(identity="def456").save(path)
    with pytest.raises(QcompatError, match="recorded for checkpoint def456, not abc123"):
        Golden.load(path, identity="abc123")


@pytest.mark.parametrize(
    "damage",
    [
        lambda d: "{",
        lambda d: json.dumps(d | {"format": GOLDEN_FORMAT + 1}),
        lambda d: json.dumps({k: v for k, v in d.items() if k != "results"}),
        lambda d: json.dumps({k: v for k, v in d.items() if k != "top_k"}),
        lambda d: json.dumps(d | {"surprise": 1}),
        lambda d: json.dumps(d | {"results": [{"prompt": "p"}]}),
        lambda d: json.dumps(d | {"results": [d["results"][0] | {"top_logprobs": [[["x", -0.1]]]}]}),
        lambda d: json.dumps([d]),
    ],
    ids=["not-json", "other-format", "no-results", "no-top-k", "unknown-key", "result-lacks-keys", "bad-token", "list"],
)
def test_a_malformed_golden_is_one_clear_error(tmp_path: Path, damage):
    path = tmp_path / "golden.json"
    _golden().save(path)
    path.write_text(damage(json.loads(path.read_text())))
    with pytest.raises(QcompatError, match=f"^{path}: "):
        Golden.load(path)


def test_a_missing_golden_is_one_clear_error(tmp_path: Path):
    with pytest.raises(QcompatError, match="not a readable golden"):
        Golden.load(tmp_path / "absent.json")


def test_a_summary_without_any_comparable_logprob_has_delta_zero():
    summary = compare_all([greedy([5], prompt="one")], [greedy([6], prompt="one")])
    assert (summary.verdicts["diverged"], summary.max_logprob_delta) == (1, 0.0)


def test_goldens_of_two_engines_save_side_by_side(tmp_path: Path):
    _golden().save(tmp_path / "hf-int4-abc123.json")
    _golden().save(tmp_path / "hf-bf16-abc123.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hf-bf16-abc123.json", "hf-int4-abc123.json"]


def test_the_committed_goldens_load_for_the_checkpoints_they_name():
    from qcompat.checkpoint.local import identity, read_checkpoint
    from qcompat.fixtures import fixtures_dir, tiny_bf16, tiny_int4

    for engine, checkpoint in (("hf-int4", tiny_int4()), ("hf-bf16", tiny_bf16())):
        ident = identity(read_checkpoint(checkpoint))
        golden = Golden.load(fixtures_dir() / "goldens" / f"{engine}-{ident[:12]}.json", identity=ident)
        assert golden.engine == engine and len(golden.results) == 8
