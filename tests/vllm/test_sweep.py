"""One vLLM release against the embedded checkpoints, judged by the registry (marker `sweep`, `nox -s sweep`).

Run once per release by `nox -s sweep`: a known failure where the registry says the release is affected, a
pass where it says the release is fixed, so each entry is checked at its last affected and first fixed release
that CPU can show. The controls that prove each failure's cause run in the legacy and v027 sessions.
"""

from __future__ import annotations

import pytest

from tests.serving import TINY_TARGETS, Serving, serve

pytestmark = pytest.mark.sweep


@pytest.fixture(scope="module")
def served(prompts, vllm_installed, log_dir) -> dict[str, Serving]:
    """Each embedded checkpoint served in turn (one server at a time) and its first requests sent."""
    on_cpu = vllm_installed.device == "cpu"
    return {
        name: serve(path, prompts, vllm_installed, log_dir / f"vllm-{name}.log", env_override=env if on_cpu else {})
        for name, (path, env) in TINY_TARGETS.items()
    }


@pytest.mark.parametrize("target", TINY_TARGETS)
def test_release_serves_as_the_registry_expects(target, served, record_verdict):
    record_verdict(served[target])
