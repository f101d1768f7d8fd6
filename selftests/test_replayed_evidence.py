"""Logs captured on an AVX2-only CPU, replayed through the registry: every machine checks both CPU kinds' verdicts.

Each replay gives the registry what the suite gave it when the log was written (stack, CPU, checkpoint, server
environment) and holds the verdict to the one recorded in fixtures/logs/replays/replays.yaml.
"""

from __future__ import annotations

import pytest
import yaml

from qcompat.checkpoint.local import read_checkpoint
from qcompat.env.probe import Stack, parse_cpuinfo
from qcompat.fixtures import fixtures_dir
from qcompat.registry.forensics import root_cause
from qcompat.registry.issues import checkpoint_facts, judge
from qcompat.registry.load import default_registry
from qcompat.suite.expectations import CHECKS

REPLAYS = fixtures_dir() / "logs" / "replays"
CASES = yaml.safe_load((REPLAYS / "replays.yaml").read_text())
AVX512 = "amd-epyc-avx512-bf16.txt"


def _stack(case: dict, cpu: str) -> Stack:
    packages = {name: str(version) for name, version in case["packages"].items()}
    return Stack(packages=packages, cpu=parse_cpuinfo((fixtures_dir() / "cpuinfo" / cpu).read_text()))


def _replay(case: dict, cpu: str):
    stack = _stack(case, cpu)
    facts = checkpoint_facts(read_checkpoint(fixtures_dir() / case["checkpoint"]))
    expected = default_registry().applicable(CHECKS["vllm.serve"], stack, facts, case.get("env", {}))
    text = (REPLAYS / case["log"]).read_text()
    return judge(expected, passed=case["phase"] is None, phase=case["phase"], text=text, stack_label=stack.label())


@pytest.mark.parametrize("case", CASES, ids=[case["log"].split("/")[-1] for case in CASES])
def test_the_registry_gives_the_recorded_verdict(case):
    verdict = _replay(case, case["cpu"])
    wanted = case["verdict"]
    assert verdict.kind == wanted["kind"], verdict.message
    if "issue" in wanted:
        assert verdict.issue == wanted["issue"]
    if "root_cause" in wanted:
        assert verdict.signature == wanted["root_cause"]


@pytest.mark.parametrize(
    "case", [c for c in CASES if c["verdict"].get("issue") == "vllm-cpu-avx2-no-wna16"], ids=lambda c: c["log"]
)
def test_the_missing_wna16_op_is_no_known_failure_on_an_avx512_cpu(case):
    """The same log on a CPU that loads vllm's AVX-512 build would be a new failure: the entry is the CPU's."""
    verdict = _replay(case, AVX512)
    assert verdict.kind == "new-failure"


def test_every_replayed_log_is_named_by_its_root_cause_not_a_wrapper():
    named = {case["log"].split("/")[-1]: root_cause((REPLAYS / case["log"]).read_text()) for case in CASES}
    assert (
        named["stable-0.32.0-int4.log"]
        == "AttributeError: '_OpNamespace' '_C' object has no attribute 'cpu_gemm_wna16'"
    )
    assert named["legacy-0.22.0-bf16-hetero-enforce-eager.log"] == (
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (2048x128 and 256x256)"
    )
    assert named["legacy-0.22.0-bf16-hetero.log"].startswith("RuntimeError: a and b must have same reduction dim")
    assert not any("Developer debug context" in line or line.startswith("File ") for line in named.values())


def test_every_log_of_the_evidence_folder_is_replayed():
    logs = {path.relative_to(REPLAYS).as_posix() for path in REPLAYS.glob("*/*.log")}
    assert logs == {case["log"] for case in CASES}


def test_interleaved_tracebacks_of_two_processes_are_named_by_the_one_that_failed_first():
    """vLLM's processes write one log: the engine core's wrapper traceback may land inside the worker's. Lines of
    the recorded AVX2 log, rearranged as two processes writing at once could leave them."""
    lines = (REPLAYS / "2026-11-29-amd-epyc-avx2" / "stable-0.32.0-int4.log").read_text().splitlines()

    def first(text: str, process: str) -> int:
        return next(i for i, line in enumerate(lines) if line.startswith(process) and text in line)

    worker_start, engine_start = first("Traceback", "(Worker"), first("Traceback", "(EngineCore")
    worker = lines[worker_start : first("AttributeError: '_OpNamespace'", "(Worker") + 1]  # its first traceback
    engine_core = lines[engine_start : first("RuntimeError: Worker failed", "(EngineCore") + 1]  # the wrapper
    interleaved = "\n".join([worker[0], *engine_core, *worker[1:]])
    assert root_cause(interleaved) == "AttributeError: '_OpNamespace' '_C' object has no attribute 'cpu_gemm_wna16'"
