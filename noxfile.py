"""One session per stack. `nox -s suite` is the main job; `nox -t cpu` is every session a CPU machine can run."""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.needs_version = ">=2024.4.15"


@nox.session(tags=["cpu"])
def selftests(session: nox.Session) -> None:
    """The suite's own tests: library logic, planted defects, property tests."""
    session.install("-e", ".[test]")
    session.run("pytest", "selftests", *session.posargs)


@nox.session(tags=["cpu", "suite"])
def static(session: nox.Session) -> None:
    """Header-only layout and streamed numerics of a checkpoint (default: the tiny INT4).

    nox -s static -- --checkpoint PATH [--profile NAME[:VARIANT]]
    """
    session.install(".[test]")
    session.run("qcompat", "inspect", *_passthrough(session.posargs, "--checkpoint", "--profile"), success_codes=[0, 1])
    session.run("pytest", "tests", "-m", "static or numerics", *session.posargs)


@nox.session
def suite(session: nox.Session) -> None:
    """The main job: every compatibility session this machine can run, on the embedded tiny checkpoint."""
    session.notify("static", session.posargs)


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
    for flag, value in zip(posargs, posargs[1:]):
        if flag == "--checkpoint" and flag in options:
            args.insert(0, value)
        elif flag in options:
            args += [flag, value]
    return args
