"""Quality against the base (issue 22): the INT4's next-token distributions over the quality corpus, compared with
the BF16 base's from transformers' full logits; stored in the results' `quality`, held to the profile's limits."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.transformers


def test_the_base_against_itself_diverges_nowhere(hf_base, quality_corpus):
    from qcompat.quality.figures import summarize
    from qcompat.quality.hf import positions

    figures = summarize(positions(hf_base, hf_base, list(quality_corpus.texts)))
    assert (figures.kld_mean, figures.kld_p99, figures.top1_agreement, figures.ppl_ratio) == (0.0, 0.0, 1.0, 1.0)


def test_int4_quality_against_the_bf16_base_holds_the_profile_limits(hold_quality, hf_int4, hf_base, quality_corpus):
    from qcompat.quality.figures import summarize
    from qcompat.quality.hf import positions
    from qcompat.quality.record import FULL_LOGITS

    figures = summarize(positions(hf_int4, hf_base, list(quality_corpus.texts)))
    hold_quality("hf-int4", FULL_LOGITS, figures)
    assert figures.kld_mean > 0, "the INT4's distributions equal the base's: the packed weights were not used"


def test_int4_task_accuracy_against_the_bf16_base_holds_the_profile_limits(hold_quality, eval_task, hf_int4, hf_base):
    from qcompat.quality.figures import TaskFigures
    from qcompat.quality.record import LM_EVAL
    from qcompat.quality.tasks import accuracy, for_transformers, hf_model

    task = for_transformers(eval_task)
    score, items = accuracy(hf_model(hf_int4), task)
    base_score, _ = accuracy(hf_model(hf_base), task)
    assert base_score > 0, f"the base scores 0 on {task.name}: the task cannot tell the checkpoint's accuracy"
    hold_quality("hf-int4", LM_EVAL, TaskFigures(task.name, items, score, base_score))
