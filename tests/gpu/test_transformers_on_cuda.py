"""transformers greedy on CUDA matches the goldens recorded on CPU (marker `gpu`)."""

from __future__ import annotations

import importlib.util

import pytest

from qcompat.suite.goldens import check_against_golden, stack_versions
from qcompat.suite.greedy import GREEDY

pytestmark = [pytest.mark.gpu, pytest.mark.transformers]

MLP_LINEARS = ("mlp.gate_proj", "mlp.up_proj", "mlp.down_proj")


def test_bf16_base_greedy_on_cuda_matches_the_hf_golden(cuda, base_path, prompts, pytestconfig, notes):
    from qcompat.checkpoint.local import identity, read_checkpoint
    from qcompat.engines import hf

    results = hf.greedy(hf.load(base_path, device="cuda"), prompts, GREEDY.max_new_tokens, GREEDY.top_k)
    check_against_golden(
        pytestconfig,
        results,
        engine="hf-bf16-cuda",
        golden_engine="hf-bf16",
        identity=identity(read_checkpoint(base_path)),
        stack=stack_versions("torch", "transformers"),
        max_new_tokens=GREEDY.max_new_tokens,
        top_k=GREEDY.top_k,
        notes=notes,
    )


def test_int4_greedy_on_cuda_matches_the_hf_golden(
    cuda, checkpoint_path, checkpoint_identity, prompts, pytestconfig, notes
):
    if importlib.util.find_spec("gptqmodel") is None:
        pytest.skip("not run: gptqmodel is not installed in this stack")
    from qcompat.engines import hf

    loaded = hf.load(checkpoint_path, device="cuda")  # gptqmodel JIT-builds its CUDA kernels (nvcc) on first use
    kernels = loaded.class_counts(MLP_LINEARS)
    notes.append("gptqmodel CUDA kernels: " + ", ".join(f"{n} x {k}" for k, n in sorted(kernels.items())))
    assert "Linear" not in kernels, f"MLP linears left unquantized on CUDA: {dict(kernels)}"
    results = hf.greedy(loaded, prompts, GREEDY.max_new_tokens, GREEDY.top_k)
    check_against_golden(
        pytestconfig,
        results,
        engine="hf-int4-cuda",
        golden_engine="hf-int4",
        identity=checkpoint_identity,
        stack=stack_versions("torch", "transformers", "gptqmodel"),
        max_new_tokens=GREEDY.max_new_tokens,
        top_k=GREEDY.top_k,
        notes=notes,
    )
