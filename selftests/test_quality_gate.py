"""Quality in the results and the gate, without an engine: limits name the metric; `gate --baseline` fails a
revision whose figures fell behind the baseline's beyond tolerance, and the same revision when its figures moved at
all beyond it (the engine changed); the matrix shows each run's figures in every form."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcompat.cli import main
from qcompat.errors import InputError
from qcompat.inspection import profile_schema
from qcompat.inspection.profile import load_profile
from qcompat.quality.corpus import tiny_corpus
from qcompat.quality.figures import Figures
from qcompat.quality.limits import METRICS, breaches, limits_for, moved
from qcompat.quality.record import FULL_LOGITS, QualityRun
from qcompat.quality.topk import coarse_kld
from qcompat.results import files, matrix
from qcompat.results.html import page

# The tiny INT4 against the tiny BF16 over its sentences (transformers, 2026-12-07), and all its scales x1.5.
INT4 = Figures(86, 1.229008, 1.228531, 1.000389, 7.804e-05, 7.185e-04, 0.906977)
ALL_SCALES_X1_5 = Figures(86, 1.229214, 1.228531, 1.000556, 1.1207e-04, 4.372e-04, 0.906977)
TINY = load_profile("gemma-4-12b-it-int4-mlponly:tiny")
LIMITS = limits_for(TINY.data["quality"], "tiny")


def quality(figures: Figures, weights: str = "int4-weights", run: str = "hf-int4") -> dict:
    return QualityRun.of(run, weights, "bf16-identity", tiny_corpus(), FULL_LOGITS, figures, LIMITS).to_dict()


def results(directory: Path, *runs: dict, session: str = "transformers") -> Path:
    data = files.session_results(session, {"path": "x", "identity": "abc"}, {"packages": {}}, 0, [], quality=list(runs))
    directory.mkdir(parents=True, exist_ok=True)
    files.write(directory / f"{session}.json", data)
    return directory


def gate(tonight: Path, baseline: Path, capsys) -> tuple[int, str]:
    code = main(["gate", str(tonight), "--baseline", str(baseline)])
    return code, capsys.readouterr().out


def test_the_tiny_int4_holds_its_own_limits_and_the_2_bit_export_does_not():
    w2a16 = Figures(86, 1.241623, 1.228531, 1.010657, 4.4152e-03, 2.5145e-02, 0.906977)
    assert breaches(INT4.to_dict(), LIMITS) == []
    assert breaches(w2a16.to_dict(), LIMITS) == [
        "kld_mean (mean KL divergence) 0.00442 is above its limit 0.0002",
        "kld_p99 (p99 KL divergence) 0.0251 is above its limit 0.002",
        "ppl_ratio (perplexity ratio) 1.01066 is above its limit 1.00200",
    ]


def test_a_top1_agreement_under_its_limit_is_named_with_both_values():
    low = Figures(86, 1.23, 1.23, 1.0, 1e-5, 1e-4, 0.5).to_dict()
    assert breaches(low, LIMITS) == ["top1_agreement (top-1 agreement) 50.00% is below its limit 85.00%"]


def test_a_worse_revision_fails_the_gate_naming_metric_baseline_and_tonight(tmp_path: Path, capsys):
    baseline = results(tmp_path / "baseline", quality(INT4))
    tonight = results(tmp_path / "tonight", quality(ALL_SCALES_X1_5, weights="damaged-weights"))
    code, out = gate(tonight, baseline, capsys)
    assert code == 1, out
    assert (
        "gate: quality transformers hf-int4: regressed on a new revision: kld_mean 0.000112 against the baseline's"
        " 7.8e-05 (tolerance 10% of it)" in out
    )
    assert "kld_p99" not in out.split("gate: quality transformers hf-int4: regressed")[-1], "p99 improved: not named"


def test_the_same_revision_with_the_same_figures_passes_the_gate(tmp_path: Path, capsys):
    baseline = results(tmp_path / "baseline", quality(INT4))
    code, out = gate(results(tmp_path / "tonight", quality(INT4)), baseline, capsys)
    assert code == 0, out
    assert "gate: baseline: quality transformers hf-int4 (same checkpoint): kld_mean 7.8e-05 -> 7.8e-05" in out


def test_the_same_revision_whose_figures_got_better_has_drifted_and_fails(tmp_path: Path, capsys):
    better = Figures(86, 1.2286, 1.228531, 1.00005, 2.0e-05, 3.0e-04, 0.95)
    code, out = gate(results(tmp_path / "tonight", quality(better)), results(tmp_path / "b", quality(INT4)), capsys)
    assert code == 1
    assert "quality transformers hf-int4: drifted on the same checkpoint (the engine moved): kld_mean 2e-05" in out


def test_a_better_revision_passes_the_gate(tmp_path: Path, capsys):
    calibrated = Figures(86, 1.2286, 1.228531, 1.00005, 2.0e-05, 3.0e-04, 0.95)
    tonight = results(tmp_path / "tonight", quality(calibrated, weights="calibrated-weights"))
    code, out = gate(tonight, results(tmp_path / "b", quality(INT4)), capsys)
    assert code == 0, out


def test_a_baseline_over_another_corpus_is_not_compared_and_says_so(tmp_path: Path, capsys):
    other = quality(INT4) | {"corpus_digest": "0" * 64}
    code, out = gate(results(tmp_path / "tonight", quality(ALL_SCALES_X1_5)), results(tmp_path / "b", other), capsys)
    assert code == 0, out
    assert "gate: baseline: quality transformers hf-int4: no baseline run over corpus sentences.txt" in out


@pytest.mark.parametrize(
    ("name", "baseline", "tonight", "tolerance", "expected"),
    [
        ("kld_mean", 1.0, 1.05, 0.1, 0.0),
        ("kld_mean", 1.0, 1.25, 0.1, pytest.approx(0.15)),
        ("kld_mean", 1.0, 0.8, 0.1, pytest.approx(-0.1)),
        ("top1_agreement", 0.9, 0.85, 0.02, pytest.approx(0.03)),
        ("top1_agreement", 0.9, 0.95, 0.02, pytest.approx(-0.03)),
        ("ppl_ratio", 1.03, 1.031, 0.005, 0.0),
    ],
)
def test_how_far_a_value_lies_beyond_its_tolerance_and_which_way(name, baseline, tonight, tolerance, expected):
    assert moved(METRICS[name], baseline, tonight, tolerance) == expected


def test_the_profile_schema_knows_the_metrics_the_limits_define():
    assert profile_schema.METRICS == tuple(METRICS)  # the profile's schema lies below quality/: a copy


def test_a_profile_tolerance_without_every_metric_is_refused_naming_the_key(tmp_path: Path):
    data = json.loads(json.dumps(TINY.data))
    del data["quality"]["tolerance"]["kld_p99"]
    with pytest.raises(InputError, match="profile key quality.tolerance must be a number for each of kld_mean"):
        profile_schema.validate(tmp_path / "p.yaml", data)


def test_profile_limits_must_say_where_they_came_from(tmp_path: Path):
    data = json.loads(json.dumps(TINY.data))
    del data["quality"]["limits"]["tiny"]["source"]
    with pytest.raises(InputError, match="profile key quality.limits.tiny.source must be where the limits came from"):
        profile_schema.validate(tmp_path / "p.yaml", data)


def test_a_results_file_with_a_figure_that_is_not_a_number_is_refused_naming_it(tmp_path: Path, capsys):
    broken = quality(INT4)
    broken["figures"]["kld_mean"] = "small"
    results(tmp_path / "r", broken)
    assert main(["report", str(tmp_path / "r")]) == 2
    assert "results key quality[0].figures must be an object of tokens, ppl" in capsys.readouterr().err


def test_the_matrix_shows_each_quality_run_in_every_form(tmp_path: Path):
    directory = results(tmp_path / "r", quality(INT4), quality(ALL_SCALES_X1_5, run="vllm-int4"))
    table = matrix.matrix(files.load_all(directory))
    row = "| transformers | hf-int4 | 86 | 1.229 (1.229) | 1.00039 | 7.8e-05 | 0.000718 | 90.7% |"
    assert row + " full logits (exact), sentences.txt |" in matrix.markdown(table).splitlines()
    brief = matrix.brief(table, [])
    assert brief[-3] == "Quality against the BF16 base:"
    assert brief[-2].startswith("  transformers hf-int4: 86 tokens, perplexity 1.229 (1.229), ratio 1.00039, KLD")
    html = page(table)
    assert '<table id="quality">' in html and "<td>vllm-int4</td>" in html
    assert json.loads(json.dumps(table))["quality"][0]["figures"]["kld_mean"] == INT4.kld_mean


def _distribution(weights: list[float]) -> dict[int, tuple[float, int]]:
    total = sum(weights)
    order = sorted(range(len(weights)), key=lambda t: -weights[t])
    return {t: (math.log(weights[t] / total), order.index(t) + 1) for t in range(len(weights))}


weights = st.lists(st.floats(0.01, 10), min_size=4, max_size=12)


@settings(max_examples=200, deadline=None)
@given(st.data())
def test_top_k_kld_is_exact_over_the_whole_vocabulary_and_a_lower_bound_below_it(data):
    base = data.draw(weights)
    checkpoint = data.draw(st.lists(st.floats(0.01, 10), min_size=len(base), max_size=len(base)))
    ours, theirs = _distribution(checkpoint), _distribution(base)
    exact = sum(math.exp(lp) * (lp - ours[t][0]) for t, (lp, _) in theirs.items())
    assert coarse_kld(ours, theirs, len(base)) == pytest.approx(exact, abs=1e-9)
    k = data.draw(st.integers(1, len(base) - 1))
    assert coarse_kld(ours, theirs, k) <= exact + 1e-9  # the checkpoint lists every token: the bound is exact


def test_the_shipped_corpus_holds_prose_and_chats_with_every_turn_a_role_and_text():
    import yaml

    from qcompat.quality.corpus import CHECKPOINT_CORPUS

    data = yaml.safe_load(CHECKPOINT_CORPUS.read_text())
    assert len(data["prose"]) >= 10 and all(isinstance(text, str) and len(text) > 200 for text in data["prose"])
    turns = [turn for chat in data["chats"] for turn in chat["messages"]]
    assert {turn["role"] for turn in turns} == {"user", "assistant"} and all(turn["content"] for turn in turns)


def test_a_corpus_digest_changes_with_one_word(tmp_path: Path):
    from qcompat.quality.corpus import lines_corpus

    (tmp_path / "a.txt").write_text("the cat sat\n\nthe dog ran\n")
    (tmp_path / "b.txt").write_text("the cat sat\n\nthe dog sat\n")
    first, second = lines_corpus(tmp_path / "a.txt"), lines_corpus(tmp_path / "b.txt")
    assert first.texts == ("the cat sat", "the dog ran") and first.digest != second.digest


def test_a_corpus_yaml_without_prose_and_chats_is_refused_naming_the_file(tmp_path: Path):
    from qcompat.errors import QcompatError
    from qcompat.fixtures import tiny_int4
    from qcompat.quality.corpus import checkpoint_corpus

    (tmp_path / "corpus.yaml").write_text("prose: just one string\n")
    with pytest.raises(QcompatError, match="corpus.yaml: a corpus file holds `prose`"):
        checkpoint_corpus(tiny_int4(), tmp_path / "corpus.yaml")


def task(accuracy: float, base_accuracy: float = 1.0, weights: str = "int4-weights") -> dict:
    from qcompat.quality.figures import TaskFigures
    from qcompat.quality.record import LM_EVAL

    figures = TaskFigures("qcompat_memorized", 8, accuracy, base_accuracy)
    return QualityRun.of("hf-int4", weights, "bf16-identity", tiny_corpus(), LM_EVAL, figures, LIMITS).to_dict()


def test_a_task_recovery_under_its_limit_is_named_and_distribution_metrics_are_not_asked_of_it():
    from qcompat.quality.figures import TaskFigures

    assert breaches(TaskFigures("qcompat_memorized", 8, 0.875, 1.0).to_dict(), LIMITS) == [
        "recovery (task accuracy recovery (checkpoint / base)) 87.50% is below its limit 100.00%"
    ]
    assert breaches(TaskFigures("qcompat_memorized", 8, 1.0, 1.0).to_dict(), LIMITS) == []


def test_a_revision_whose_task_accuracy_fell_fails_the_gate_naming_recovery(tmp_path: Path, capsys):
    baseline = results(tmp_path / "baseline", quality(INT4), task(1.0))
    tonight = results(tmp_path / "tonight", quality(INT4, weights="new"), task(0.875, weights="new"))
    code, out = gate(tonight, baseline, capsys)
    assert code == 1, out
    assert "regressed on a new revision: recovery 87.50% against the baseline's 100.00% (tolerance 3.00%)" in out
    assert "kld_mean" not in out.split("gate: FAILED")[0].split("regressed")[-1]


def test_the_matrix_shows_task_accuracy_in_its_own_section(tmp_path: Path):
    table = matrix.matrix(files.load_all(results(tmp_path / "r", quality(INT4), task(0.875))))
    lines = matrix.markdown(table).splitlines()
    assert "**Task accuracy against the BF16 base**" in lines
    assert "| transformers | hf-int4 | qcompat_memorized | 8 | 87.5% (100.0%) | 87.5% |" in lines
    assert "  transformers hf-int4: qcompat_memorized on 8 items, accuracy 87.5% (100.0%), recovery 87.5%" in (
        matrix.brief(table, [])
    )
    assert '<table id="tasks">' in page(table)


def test_a_baseline_whose_limits_predate_a_metric_is_still_compared_on_the_rest(tmp_path: Path, capsys):
    old = quality(INT4)
    del old["limits"]["tolerance"]["recovery"]
    code, out = gate(results(tmp_path / "tonight", old), results(tmp_path / "b", old), capsys)
    assert code == 0, out


def test_transformers_runs_gsm8k_on_a_hundred_items_unless_told_and_the_local_task_whole(tmp_path: Path):
    import dataclasses

    from qcompat.quality.tasks import GSM8K, HF_LIMIT, for_transformers, memorized_task

    assert for_transformers(GSM8K).limit == HF_LIMIT == 100
    assert for_transformers(dataclasses.replace(GSM8K, limit=1319)).limit == 1319
    assert for_transformers(memorized_task(tiny_corpus(), tmp_path)).limit is None


def test_the_memorized_task_is_lm_eval_s_own_schema_over_the_sentences(tmp_path: Path):
    import yaml

    from qcompat.quality.tasks import memorized_task

    task = memorized_task(tiny_corpus(), tmp_path)
    config = yaml.safe_load((tmp_path / f"{task.name}.yaml").read_text())
    rows = [json.loads(line) for line in (tmp_path / "memorized.jsonl").read_text().splitlines()]
    assert config["output_type"] == "generate_until" and config["dataset_path"] == "json"
    assert len(rows) == 8 and all(f"{r['prompt']} {r['target']}" in tiny_corpus().texts for r in rows)
