"""Which known issues each expectation-driven check consults (the registry validator holds this complete)."""

from __future__ import annotations

CHECKS: dict[str, list[str]] = {
    # the server starts and answers its first request
    "vllm.serve": [
        "vllm-head-dim-transformers-backend",
        "vllm-cpu-wna16-transformers-backend",
        "vllm-cpu-avx2-no-wna16",
        "vllm-cpu-amx-bf16-onednn-capped",
        "vllm-ambiguous-per-layer-head-dim",
        "vllm-modules-in-block-missing",
    ],
    # the card's serve command on a GPU, per VLLM_USE_FLASHINFER_SAMPLER setting
    "gpu.flashinfer_sampler": [
        "flashinfer-sampler-sm120",
        "flashinfer-sampler-forced-sm120",
        "flashinfer-sampler-forced-kernels-disabled",
        "flashinfer-sampler-jit-sm120",
    ],
    # a floating session's newest releases install (qcompat.upstream.judge consults every install-phase entry)
    "upstream.install": ["vllm-flashinfer-pin-unpublished"],
}
