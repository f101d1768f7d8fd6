"""One vLLM server per pytest session, started on first use, judged against the registry, shared by every test."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcompat.card import recipes
from tests.serving import Serving, progress, serve


@pytest.fixture(scope="session")
def stack():
    from qcompat.stack import probe

    found = probe()
    progress(f"stack: {found.label()}")
    return found


@pytest.fixture(scope="session")
def log_dir(pytestconfig, tmp_path_factory) -> Path:
    results = pytestconfig.getoption("--results")
    return Path(results).parent / Path(results).stem if results else tmp_path_factory.mktemp("vllm")


@pytest.fixture(scope="session")
def serving(checkpoint_path: Path, prompts, stack, log_dir: Path):
    served = serve(checkpoint_path, prompts, stack, log_dir / "vllm-server.log", keep=True)
    yield served
    if served.server is not None:
        served.server.stop()
        progress("server stopped")


@pytest.fixture(scope="session")
def vllm_server(serving: Serving):
    if serving.server is None:
        pytest.skip(f"not run: the server is not serving ({serving.verdict.label})")
    return serving.server


@pytest.fixture(scope="session")
def vllm_api(vllm_server):
    from qcompat.engines import vllm

    return vllm.client(vllm_server.url)


@pytest.fixture(scope="session")
def vllm_greedy(serving: Serving, vllm_server):
    return serving.greedy


@pytest.fixture(scope="session")
def served_model_name() -> str:
    return recipes()["serve"]["served_model_name"]


@pytest.fixture(scope="session")
def vllm_stack(stack) -> dict[str, str]:
    return {stack.distributions.get(p, p): v for p, v in stack.packages.items()}


@pytest.fixture
def record_verdict(record_property):
    """Put a registry verdict into the results, then pass or fail the test by it."""

    def record(serving: Serving) -> None:
        verdict = serving.verdict
        record_property("verdict", verdict.label)
        if verdict.kind in ("new-failure", "unexpected-pass"):
            tail = "\n".join(serving.log.splitlines()[-30:])
            pytest.fail(f"{verdict.message}\nlog: {serving.log_path}\n{tail}", pytrace=False)

    return record
