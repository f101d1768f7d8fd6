from __future__ import annotations

import pytest

from qcompat.suite.serving import Serving, base_linear_env, serve


@pytest.fixture(scope="session")
def base_serving(base_path, prompts, vllm_installed, log_dir, made_corpus) -> Serving:
    """The BF16 base served once (and stopped): its greedy results, and its log probabilities over the quality
    corpus."""
    env = base_linear_env(vllm_installed)
    log = log_dir / "vllm-bf16-base.log"
    texts = () if isinstance(made_corpus, str) else made_corpus.texts  # a str says why there is none
    return serve(base_path, prompts, vllm_installed, log, env_override=env, quality_texts=texts)
