from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def cuda(stack):
    if stack.device != "cuda":
        pytest.skip(f"not run: needs CUDA; probe found no NVIDIA GPU ({stack.label()})")
    return stack


@pytest.fixture(scope="session")
def sm120(cuda):
    if not (cuda.compute_capability or "").startswith("12."):
        pytest.skip(f"not run: needs Blackwell sm120 as the card was verified on; found {cuda.label()}")
    return cuda
