"""Quality against the base (issue 22) on vLLM: the INT4 server's and the BF16 base server's top-k log
probabilities over the quality corpus (asked of the servers the session starts anyway), held to the profile's
limits and stored in the results' `quality`, the approximation named."""

from __future__ import annotations

import pytest

from qcompat.suite.serving import QUALITY_TOP_K, Serving, not_serving

pytestmark = pytest.mark.vllm


def _answered(serving: Serving):
    if serving.phase is not None:
        pytest.skip(not_serving(serving))
    if serving.quality is None:
        pytest.fail(f"{serving.checkpoint.name}: the server gave no prompt_logprobs: {serving.quality_error}")
    return serving.quality


def _figures(ours, theirs):
    from qcompat.quality.figures import summarize
    from qcompat.quality.topk import positions

    assert ours.ids == theirs.ids, "the checkpoint's and the base's servers tokenized the corpus differently"
    found = []
    for ids, mine, base in zip(ours.ids, ours.steps, theirs.steps):
        found += positions(mine, base, ids[1:], QUALITY_TOP_K)
    return summarize(found)


def test_the_base_against_itself_diverges_nowhere_through_top_k(quality_corpus, base_serving):
    base = _answered(base_serving)
    figures = _figures(base, base)
    assert (figures.kld_mean, figures.kld_p99, figures.top1_agreement, figures.ppl_ratio) == (0.0, 0.0, 1.0, 1.0)


def test_int4_quality_against_the_bf16_base_holds_the_profile_limits(hold_quality, serving, base_serving):
    from qcompat.quality.record import top_k_approximation

    figures = _figures(_answered(serving), _answered(base_serving))
    hold_quality("vllm-int4", top_k_approximation(QUALITY_TOP_K), figures)
    assert figures.kld_mean > 0, "the INT4's distributions equal the base's: the packed weights were not used"


def test_int4_task_accuracy_against_the_bf16_base_holds_the_profile_limits(
    hold_quality, eval_task, vllm_server, base_serving, checkpoint_path, served_model_name
):
    from qcompat.quality.figures import TaskFigures
    from qcompat.quality.record import LM_EVAL
    from qcompat.quality.tasks import accuracy, vllm_model_args

    if base_serving.phase is not None:
        pytest.skip(not_serving(base_serving))
    if base_serving.while_up is None:
        pytest.fail(f"the base server's task accuracy is missing: {base_serving.while_up_error}")
    base_score, _ = base_serving.while_up
    score, items = accuracy(
        "local-completions", eval_task, vllm_model_args(vllm_server.url, served_model_name, checkpoint_path)
    )
    assert base_score > 0, f"the base scores 0 on {eval_task.name}: the task cannot tell the checkpoint's accuracy"
    hold_quality("vllm-int4", LM_EVAL, TaskFigures(eval_task.name, items, score, base_score))
