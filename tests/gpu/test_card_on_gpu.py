"""The card's GPU claims (marker `gpu`): its exact serve command, the FlashInfer sampler matrix, ~11 GB load."""

from __future__ import annotations

import pytest

from qcompat.card import recipes
from qcompat.checkpoint import read_checkpoint
from qcompat.gpu_claims import (
    MODEL_LOAD_LIMIT_GIB,
    SAMPLER_SETTINGS,
    model_loading_gib,
    sampler_env,
    sampler_expectation,
)
from qcompat.registry import checkpoint_facts, default_registry
from tests.expectations import CHECKS

pytestmark = [pytest.mark.gpu, pytest.mark.vllm]


def test_server_runs_the_cards_exact_command_and_env(cuda, serving):
    card = recipes()["serve"]
    command = serving.log.splitlines()[0] if serving.log else ""
    for flag, value in zip(card["args"][::2], card["args"][1::2]):
        if flag not in ("--host", "--port"):
            assert f"{flag} {value}" in command, f"the server was not started with the card's {flag} {value}: {command}"
    for name, value in card["env"].items():  # the harness writes the server's environment into the first line
        assert f"{name}={value}" in command.split(" -m ")[0], (
            f"the server was not started with {name}={value}: {command}"
        )


def test_model_loads_in_about_11_gib(cuda, serving, vllm_server):
    loaded = model_loading_gib(serving.log)
    assert loaded is not None, "no 'Model loading took ... GiB' line in the vLLM log"
    assert loaded <= MODEL_LOAD_LIMIT_GIB, f"model loading took {loaded:.2f} GiB, the card says ~11 GB"


@pytest.mark.sm120
@pytest.mark.parametrize("setting", SAMPLER_SETTINGS)
def test_flashinfer_sampler_setting_behaves_as_the_registry_says(
    setting, sm120, checkpoint_path, prompts, log_dir, record_property
):
    from tests.serving import serve

    facts = checkpoint_facts(read_checkpoint(checkpoint_path))
    expectation = sampler_expectation(default_registry(), sm120, setting, CHECKS["gpu.flashinfer_sampler"], facts)
    env = {"VLLM_USE_FLASHINFER_SAMPLER": None, **sampler_env(setting)}
    served = serve(checkpoint_path, prompts[:1], sm120, log_dir / f"vllm-sampler-{setting}.log", env_override=env,
                   among="gpu.flashinfer_sampler")  # fmt: skip
    verdict = served.verdict
    record_property("verdict", verdict.label)
    if verdict.kind in ("new-failure", "unexpected-pass"):
        pytest.fail(f"{SAMPLER_SETTINGS[setting]=}: expected {expectation.describe}; {verdict.message}", pytrace=False)
    if verdict.kind == "passed" and expectation.log is not None:
        assert expectation.log.search(served.log), f"vLLM did not log /{expectation.log.pattern}/"
