"""transformers + gptqmodel load the checkpoint as the card says: MLP int4, attention BF16, memorized output."""

from __future__ import annotations

import pytest

from qcompat.suite.goldens import check_against_golden, record_greedy
from qcompat.suite.greedy import GREEDY

pytestmark = pytest.mark.transformers

ATTENTION = ("self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj")
MLP = ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def test_attention_projections_stay_bf16_when_loaded(hf_int4):
    import torch

    loaded = {name: module for name, module in hf_int4.model.named_modules() if name.endswith(ATTENTION)}
    assert loaded, "no attention projection found in the loaded model"
    wrong = {
        n: f"{type(m).__name__} {getattr(getattr(m, 'weight', None), 'dtype', None)}"
        for n, m in loaded.items()
        if type(m) is not torch.nn.Linear or m.weight.dtype != torch.bfloat16
    }
    assert wrong == {}, "attention projections must be plain BF16 nn.Linear"


def test_mlp_linears_load_as_gptqmodel_int4_kernels(hf_int4):
    classes = {name: type(module) for name, module in hf_int4.model.named_modules() if name.endswith(MLP)}
    assert classes, "no MLP linear found in the loaded model"
    wrong = {n: f"{c.__module__}.{c.__name__}" for n, c in classes.items() if not c.__module__.startswith("gptqmodel.")}
    assert wrong == {}, "MLP linears must be gptqmodel quantized modules"


@pytest.mark.usefixtures("tiny_only")
def test_greedy_reproduces_the_memorized_sentences(hf_int4_greedy, memorized):
    produced = [g.prompt + g.text for g in hf_int4_greedy]
    assert produced == [sentence for _, sentence in memorized]


def test_int4_greedy_matches_the_bf16_base(hf_int4_greedy, hf_base_greedy, notes):
    from qcompat.results.parity import compare_all

    summary = compare_all(hf_base_greedy, hf_int4_greedy)
    notes.append("HF INT4 vs HF BF16 base: " + summary.text().splitlines()[0])
    assert summary.verdicts["diverged"] == 0, summary.text()


def test_int4_greedy_matches_its_golden(pytestconfig, hf_int4_greedy, checkpoint_identity, hf_stack, notes):
    check_against_golden(
        pytestconfig,
        hf_int4_greedy,
        engine="hf-int4",
        golden_engine="hf-int4",
        identity=checkpoint_identity,
        stack=hf_stack,
        max_new_tokens=GREEDY.max_new_tokens,
        top_k=GREEDY.top_k,
        notes=notes,
    )


def test_bf16_base_greedy_matches_its_golden(pytestconfig, hf_base_greedy, base_path, hf_stack, notes):
    from qcompat.checkpoint.local import identity, read_checkpoint

    check_against_golden(
        pytestconfig,
        hf_base_greedy,
        engine="hf-bf16",
        golden_engine="hf-bf16",
        identity=identity(read_checkpoint(base_path)),
        stack=hf_stack,
        max_new_tokens=GREEDY.max_new_tokens,
        top_k=GREEDY.top_k,
        notes=notes,
    )


def test_the_legacy_controls_bf16_twin_reproduces_the_memorized_sentences(
    pytestconfig, tiny_only, prompts, memorized, hf_stack
):
    """The equal-head-dims BF16 twin, which the legacy session serves as its control, greedy in transformers:
    it completes the memorized sentences, and its run joins the parity across sessions beside legacy's vLLM run."""
    from qcompat.checkpoint.local import identity, read_checkpoint
    from qcompat.engines import hf
    from qcompat.fixtures import fixtures_dir

    twin = fixtures_dir() / "tiny-equal-head-dims" / "bf16"
    results = hf.greedy(hf.load(twin), prompts, GREEDY.max_new_tokens, GREEDY.top_k)
    record_greedy(
        pytestconfig,
        results,
        run="hf-bf16-equal-head-dims",
        identity=identity(read_checkpoint(twin)),
        stack=hf_stack,
        max_new_tokens=GREEDY.max_new_tokens,
        top_k=GREEDY.top_k,
    )
    assert [g.prompt + g.text for g in results] == [sentence for _, sentence in memorized]
