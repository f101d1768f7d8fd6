"""The quality figures order checkpoints by how much they were damaged, without being told: the tiny base exported
at 8 bits scores closer to the base than the card's 4 bits, at 2 bits farther; and all scales x1.5 fall behind the
card's build beyond tolerance, so `gate --baseline` fails naming the metric.

Runs inside the `transformers` nox session (transformers' full logits; the holdouts rebuilt from fixtures)."""

from __future__ import annotations

import numpy as np
import pytest

from qcompat.cli import main
from qcompat.fixtures import tiny_bf16, tiny_int4
from qcompat.inspection.profile import load_profile
from qcompat.quality.corpus import tiny_corpus
from qcompat.quality.limits import limits_for
from qcompat.quality.record import FULL_LOGITS, QualityRun
from qcompat.results import files
from selftests.support.holdouts import materialize
from selftests.support.planting import copy_checkpoint, edit_tensors
from selftests.support.safetensors_file import Entry

pytestmark = pytest.mark.transformers


def _all_scales_times(entries: dict[str, Entry], factor: float) -> None:
    for name in [n for n in entries if n.endswith(".scales")]:
        scales = np.frombuffer(entries[name].data, dtype=np.float16) * np.float16(factor)
        entries[name] = Entry(entries[name].dtype, entries[name].shape, scales.astype(np.float16).tobytes())


@pytest.fixture(scope="module")
def scored(tmp_path_factory) -> dict:
    """Each checkpoint's figures against the tiny BF16 base, and its weights' digest."""
    from qcompat.checkpoint.local import read_checkpoint, weights_digest
    from qcompat.engines import hf
    from qcompat.quality.figures import summarize
    from qcompat.quality.hf import positions

    root = tmp_path_factory.mktemp("quality")
    damaged = copy_checkpoint(tiny_int4(), root / "all-scales-x1.5")
    edit_tensors(damaged, lambda entries: _all_scales_times(entries, 1.5))
    checkpoints = {
        "w8a16": materialize("ar-w8a16", root / "ar-w8a16"),
        "int4": tiny_int4(),
        "w2a16": materialize("ar-w2a16", root / "ar-w2a16"),
        "all-scales-x1.5": damaged,
    }
    base = hf.load(tiny_bf16())
    texts = list(tiny_corpus().texts)
    return {
        name: (summarize(positions(hf.load(path), base, texts)), weights_digest(read_checkpoint(path)))
        for name, path in checkpoints.items()
    }


@pytest.mark.parametrize("metric", ["kld_mean", "kld_p99", "ppl_ratio"])
def test_the_figures_order_the_exports_by_their_bits(scored, metric):
    distance = {
        name: abs(getattr(figures, metric) - (1.0 if metric == "ppl_ratio" else 0.0))
        for name, (figures, _) in scored.items()
    }
    assert distance["w8a16"] < distance["int4"] < distance["w2a16"], distance


def test_top1_agreement_does_not_rise_with_damage(scored):
    agreement = {name: figures.top1_agreement for name, (figures, _) in scored.items()}
    assert agreement["w8a16"] >= agreement["int4"] >= agreement["w2a16"], agreement


def test_all_scales_x1_5_fail_the_gate_against_the_card_build_naming_the_metric(scored, tmp_path, capsys):
    limits = limits_for(load_profile("gemma-4-12b-it-int4-mlponly:tiny").data["quality"], "tiny")
    base_identity = "tiny-bf16"
    for night, name in (("baseline", "int4"), ("tonight", "all-scales-x1.5")):
        figures, weights = scored[name]
        run = QualityRun.of("hf-int4", weights, base_identity, tiny_corpus(), FULL_LOGITS, figures, limits)
        data = files.session_results("transformers", None, {"packages": {}}, 0, [], quality=[run.to_dict()])
        (tmp_path / night).mkdir()
        files.write(tmp_path / night / "transformers.json", data)
    code = main(["gate", str(tmp_path / "tonight"), "--baseline", str(tmp_path / "baseline")])
    out = capsys.readouterr().out
    assert code == 1, out
    assert "gate: quality transformers hf-int4: regressed on a new revision: kld_mean" in out


def test_the_memorized_task_scores_a_copy_with_negated_scales_below_the_card_build(tmp_path):
    """The task accuracy check can fail: all scales negated break the memorized sentences (test_damaged_copies)."""
    from qcompat.engines import hf
    from qcompat.quality.tasks import accuracy, hf_model, memorized_task

    negated = copy_checkpoint(tiny_int4(), tmp_path / "negated")
    edit_tensors(negated, lambda entries: _all_scales_times(entries, -1.0))
    task = memorized_task(tiny_corpus(), tmp_path / "task")
    card, items = accuracy(hf_model(hf.load(tiny_int4())), task)
    broken, _ = accuracy(hf_model(hf.load(negated)), task)
    assert (card, items) == (1.0, 8) and broken < card, (card, broken)
