"""The card's GPU claims (marker `gpu`): its exact serve command, the FlashInfer sampler matrix, ~11 GB load."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from qcompat.checkpoint.local import read_checkpoint
from qcompat.engines import vllm
from qcompat.engines.processes import process_cmdline, process_environ
from qcompat.engines.server import Server, ServerSpec
from qcompat.registry.issues import checkpoint_facts
from qcompat.registry.load import default_registry
from qcompat.registry.sampler import (
    MODEL_LOAD_LIMIT_GIB,
    SAMPLER_SETTINGS,
    model_loading_gib,
    sampler_env,
    sampler_expectation,
)
from qcompat.suite.card import recipes
from qcompat.suite.expectations import CHECKS

pytestmark = [pytest.mark.gpu, pytest.mark.vllm]


def test_the_cards_serve_command_runs_as_written(cuda, checkpoint_path, log_dir):
    """`vllm serve MODEL <the card's flags>` with the card's env, through the console script: the process must
    have had exactly that command line and env, and the server must come up (the port is a free one)."""
    script = Path(sys.executable).parent / "vllm"
    if not script.is_file():
        pytest.skip(f"not run: this stack has no `vllm` console script ({script})")
    command, env = vllm.card_serve_command(recipes()["serve"], script, checkpoint_path)
    spec = ServerSpec(
        command,
        log_dir / "vllm-card-command.log",
        env=env,
        startup_timeout=900,
        fatal_log=vllm.FATAL_STARTUP,
        exclusive="cuda",
    )
    with Server(spec) as server:
        ran_with, ran = process_environ(server.process.pid), process_cmdline(server.process.pid)
    card_line = [*command, "--port", str(server.port)]  # after the interpreter the console script's shebang names
    assert ran[-len(card_line) :] == card_line, f"the server ran {ran}, not the card's {card_line}"
    for name, value in env.items():
        assert ran_with.get(name) == value, (
            f"the server ran with {name}={ran_with.get(name)!r}, the card says {value!r}"
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
    from qcompat.suite.serving import serve

    facts = checkpoint_facts(read_checkpoint(checkpoint_path))
    expectation = sampler_expectation(default_registry(), sm120, setting, CHECKS["gpu.flashinfer_sampler"], facts)
    env = {"VLLM_USE_FLASHINFER_SAMPLER": None, **sampler_env(setting)}
    served = serve(
        checkpoint_path,
        prompts[:1],
        sm120,
        log_dir / f"vllm-sampler-{setting}.log",
        env_override=env,
        among="gpu.flashinfer_sampler",
    )
    verdict = served.verdict
    record_property("verdict", verdict.fields)
    if verdict.kind in ("new-failure", "unexpected-pass"):
        pytest.fail(f"{SAMPLER_SETTINGS[setting]=}: expected {expectation.describe}; {verdict.message}", pytrace=False)
    if verdict.kind == "passed" and expectation.log is not None:
        assert expectation.log.search(served.log), f"vLLM did not log /{expectation.log.pattern}/"
