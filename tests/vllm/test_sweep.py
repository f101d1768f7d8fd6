"""One vLLM release against the embedded checkpoints, judged by the registry (marker `sweep`, `nox -s sweep`).

Run once per release by `nox -s sweep`: a known failure where the registry says the release is affected, a
pass where it says the release is fixed, so each entry is checked at its last affected and first fixed release
that CPU can show. The controls that prove each failure's cause run in the legacy and v027 sessions.
"""

from __future__ import annotations

import pytest

from qcompat.suite.serving import TINY_TARGETS, Serving, serve_each, served_greedy

pytestmark = pytest.mark.sweep


@pytest.fixture(scope="module")
def served(prompts, vllm_installed, log_dir) -> dict[str, Serving]:
    return serve_each(TINY_TARGETS, prompts, vllm_installed, log_dir)


@pytest.mark.parametrize("target", TINY_TARGETS)
def test_release_serves_as_the_registry_expects(target, served, record_verdict):
    record_verdict(served[target])


@pytest.mark.parametrize("target", TINY_TARGETS)
def test_release_completes_the_memorized_sentences(target, served, memorized):
    """Serving is not enough: greedy output must be the sentences the tiny model memorized."""
    produced = [g.prompt + g.text for g in served_greedy(served[target])]
    assert produced == [sentence for _, sentence in memorized]
