from __future__ import annotations

import pytest

from qcompat.suite.serving import Serving, base_linear_env, serve


@pytest.fixture(scope="session")
def base_serving(base_path, prompts, vllm_installed, log_dir, made_corpus, made_task, served_model_name) -> Serving:
    """The BF16 base served once (and stopped): its greedy results, its log probabilities over the quality corpus,
    and its accuracy on the task (Serving.while_up) where the stack has lm-eval."""
    env = base_linear_env(vllm_installed)
    log = log_dir / "vllm-bf16-base.log"
    texts = () if isinstance(made_corpus, str) else made_corpus.texts  # a str says why there is none
    evaluate = None
    if made_task is not None:
        from qcompat.quality.tasks import accuracy, vllm_model_args

        def evaluate(url: str):
            return accuracy("local-completions", made_task, vllm_model_args(url, served_model_name, base_path))

    return serve(base_path, prompts, vllm_installed, log, env_override=env, quality_texts=texts, while_up=evaluate)
