from __future__ import annotations

from pathlib import Path

import pytest

from qcompat.suite.greedy import GREEDY


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

    return hf.greedy(hf_int4, prompts, GREEDY.max_new_tokens, GREEDY.top_k)


@pytest.fixture(scope="session")
def hf_base_greedy(hf_base, prompts):
    from qcompat.engines import hf

    return hf.greedy(hf_base, prompts, GREEDY.max_new_tokens, GREEDY.top_k)


@pytest.fixture(scope="session")
def hf_stack() -> dict[str, str]:
    from qcompat.suite.goldens import stack_versions

    return stack_versions("torch", "transformers", "gptqmodel", "optimum", "auto-round")
