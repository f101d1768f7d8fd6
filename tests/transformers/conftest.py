from __future__ import annotations

from pathlib import Path

import pytest

MAX_NEW_TOKENS = 24
TOP_K = 5


@pytest.fixture(scope="session")
def hf_int4(checkpoint_path: Path):
    from qcompat.engines import hf

    return hf.load(checkpoint_path)


@pytest.fixture(scope="session")
def hf_base(base_path: Path):
    from qcompat.engines import hf

    return hf.load(base_path)


@pytest.fixture(scope="session")
def hf_int4_greedy(hf_int4, prompts):
    from qcompat.engines import hf

    return hf.greedy(hf_int4, prompts, MAX_NEW_TOKENS, TOP_K)


@pytest.fixture(scope="session")
def hf_base_greedy(hf_base, prompts):
    from qcompat.engines import hf

    return hf.greedy(hf_base, prompts, MAX_NEW_TOKENS, TOP_K)


@pytest.fixture(scope="session")
def hf_stack() -> dict[str, str]:
    from tests.goldens import stack_versions

    return stack_versions("torch", "transformers", "gptqmodel", "optimum", "auto-round")
