"""A results file checked against its format (docs/results.md) once, when it is read: the matrix, the gate and the
sweep table never meet a wrong type, and a file another version wrote or a disk damaged is one error naming the
file, the key, what it must be and what was found."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import Any

from qcompat.errors import InputError
from qcompat.inputs import shown
from qcompat.quality.figures import Figures, TaskFigures
from qcompat.quality.limits import METRICS as QUALITY_METRICS

OUTCOMES = ("passed", "known-failure", "new-failure", "unexpected-pass", "skipped")
NEEDS_ISSUE = ("known-failure", "unexpected-pass")
LATEST_START = 4_102_444_800  # 2100-01-01: a start time beyond it (or before 1970) is no clock's
Check = Callable[[Any], bool]


def _text(value: Any) -> bool:
    return isinstance(value, str)


def _count(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def _start(value: Any) -> bool:
    return _count(value) and value <= LATEST_START


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(map(_text, value))


def _text_map(value: Any) -> bool:
    return isinstance(value, dict) and all(map(_text, value.values()))


def _bool_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, bool) for v in value.values())


def _ids(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) for v in value)


class _Reader:
    def __init__(self, path: Path):
        self.path = path

    def fail(self, key: str, expected: str, found: Any) -> InputError:
        return InputError(self.path, f"results key {key} must be {expected}, found {shown(found)}"[:400])

    def need(self, data: dict, key: str, where: str, check: Check, expected: str, required: bool = False) -> None:
        if key not in data:
            if required:
                raise InputError(self.path, f"results file has no {where}{key} ({expected})")
            return
        if not check(data[key]):
            raise self.fail(f"{where}{key}", expected, data[key])

    def mapping(self, value: Any, key: str) -> dict:
        if not isinstance(value, dict):
            raise self.fail(key, "an object", value)
        return value


def validate(path: Path, data: dict[str, Any]) -> None:
    read = _Reader(path)
    read.need(data, "session", "", lambda v: _text(v) and bool(v), "a session name", required=True)
    read.need(data, "started", "", lambda v: v is None or _start(v), "a time in seconds since 1970, or null")
    read.need(data, "seconds", "", _count, "a duration in seconds")
    for key in ("not_run", "behind"):
        read.need(data, key, "", _text, "a string")
    read.need(data, "notes", "", _texts, "a list of strings")
    if data.get("checkpoint") is not None:
        checkpoint = read.mapping(data["checkpoint"], "checkpoint")
        for key in ("path", "identity"):
            read.need(checkpoint, key, "checkpoint.", lambda v: v is None or _text(v), "a string or null")
        if "hub" in checkpoint:
            hub = read.mapping(checkpoint["hub"], "checkpoint.hub")
            for key in ("repo", "revision"):
                read.need(hub, key, "checkpoint.hub.", _text, "a string", required=True)
            read.need(hub, "commit", "checkpoint.hub.", lambda v: v is None or _text(v), "a commit hash")
    _validate_probe(read, data)
    for number, check in enumerate(data["checks"]):
        _validate_check(read, check, f"checks[{number}].")
    for key in ("installed", "greedy"):
        if key in data and not isinstance(data[key], list):
            raise read.fail(key, "a list", data[key])
    for number, entry in enumerate(data.get("installed", [])):
        for key in ("project", "newest", "tested"):
            read.need(read.mapping(entry, f"installed[{number}]"), key, f"installed[{number}].", _text, "a string")
    for number, run in enumerate(data.get("greedy", [])):
        _validate_greedy(read, read.mapping(run, f"greedy[{number}]"), f"greedy[{number}].")
    if "quality" in data and not isinstance(data["quality"], list):
        raise read.fail("quality", "a list", data["quality"])
    for number, run in enumerate(data.get("quality", [])):
        _validate_quality(read, read.mapping(run, f"quality[{number}]"), f"quality[{number}].")


def _validate_probe(read: _Reader, data: dict[str, Any]) -> None:
    if "probe" not in data:
        raise InputError(read.path, "results file has no probe (what the session ran on)")
    probe = read.mapping(data["probe"], "probe")
    for key in ("packages", "distributions"):
        read.need(probe, key, "probe.", _text_map, "an object of package to version")
    for key in ("nightly", "tools"):
        read.need(probe, key, "probe.", _bool_map, "an object of name to true/false")
    for key in ("cuda_runtime", "cuda_toolkit", "device", "compute_capability", "flashinfer_kernels"):
        read.need(probe, key, "probe.", lambda v: v is None or _text(v), "a string or null")
    if "gpus" in probe:
        if not isinstance(probe["gpus"], list):
            raise read.fail("probe.gpus", "a list", probe["gpus"])
        for number, gpu in enumerate(probe["gpus"]):
            for key in ("name", "compute_capability", "driver"):
                read.need(read.mapping(gpu, f"probe.gpus[{number}]"), key, f"probe.gpus[{number}].", _text, "a string")
    if probe.get("cpu") is not None:
        cpu = read.mapping(probe["cpu"], "probe.cpu")
        for key in ("vendor", "model", "arch"):
            read.need(cpu, key, "probe.cpu.", _text, "a string")
        read.need(cpu, "flags", "probe.cpu.", _texts, "a list of CPU flags")


def _validate_check(read: _Reader, check: Any, where: str) -> None:
    check = read.mapping(check, where.rstrip("."))
    read.need(check, "check", where, lambda v: _text(v) and bool(v), "the check's name", required=True)
    read.need(check, "outcome", where, lambda v: v in OUTCOMES, f"one of {', '.join(OUTCOMES)}", required=True)
    if check["outcome"] in NEEDS_ISSUE:
        read.need(check, "issue", where, lambda v: _text(v) and bool(v), "a registry id", required=True)
    for key in ("signature", "reason", "message", "known_on", "issue"):
        read.need(check, key, where, lambda v: v is None or _text(v), "a string")
    read.need(check, "seconds", where, _count, "a duration in seconds")


FIGURES = tuple(field.name for field in fields(Figures))
TASK_FIGURES = (*(field.name for field in fields(TaskFigures) if field.name != "task"), "recovery")
METRICS = tuple(QUALITY_METRICS)


def _numbers_of(names: tuple[str, ...]) -> Check:
    return lambda value: isinstance(value, dict) and set(value) >= set(names) and all(map(_count, value.values()))


def _task_figures(value: Any) -> bool:
    numbers = isinstance(value, dict) and _numbers_of(TASK_FIGURES)({k: v for k, v in value.items() if k != "task"})
    return numbers and _text(value.get("task"))


def _validate_quality(read: _Reader, run: dict[str, Any], where: str) -> None:
    for key in ("run", "weights_digest", "base_identity", "corpus", "corpus_digest", "approximation"):
        read.need(run, key, where, _text, "a string", required=True)
    read.need(
        run,
        "figures",
        where,
        lambda v: _numbers_of(FIGURES)(v) or _task_figures(v),
        f"an object of {', '.join(FIGURES)}, or of task and {', '.join(TASK_FIGURES)}",
        required=True,
    )
    if run.get("limits") is None:
        return
    limits = read.mapping(run["limits"], f"{where}limits")
    read.need(limits, "source", f"{where}limits.", _text, "a string", required=True)
    for key in ("bounds", "tolerance"):  # a file from before a metric existed lacks it: that metric is not held
        read.need(limits, key, f"{where}limits.", _numbers_of(()), "an object of metric to number", required=True)
        if not set(limits[key]) <= set(METRICS):
            raise read.fail(f"{where}limits.{key}", f"an object of {', '.join(METRICS)}", limits[key])


def _validate_greedy(read: _Reader, run: dict[str, Any], where: str) -> None:
    for key in ("run", "identity"):
        read.need(run, key, where, _text, "a string", required=True)
    read.need(run, "stack", where, _text_map, "an object of package to version")
    if not isinstance(run.get("results"), list):
        raise read.fail(f"{where}results", "a list of greedy results", run.get("results"))
    for number, result in enumerate(run["results"]):
        result = read.mapping(result, f"{where}results[{number}]")
        for key in ("prompt", "text"):
            read.need(result, key, f"{where}results[{number}].", _text, "a string", required=True)
        for key in ("prompt_ids", "generated_ids"):
            read.need(result, key, f"{where}results[{number}].", _ids, "a list of token ids")
