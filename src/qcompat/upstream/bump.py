"""`nox -s lock -- --bump NAME`: a stack that follows releases (stacks.toml `follows = "vllm"`) gets, per device,
the newest vLLM release that installs, the newest transformers that release allows, and the as-of day after the
later upload; stacks.toml is edited in place (its comments kept) and the caller re-locks. No PyYAML: it runs in
nox's own environment.
"""

from __future__ import annotations

import datetime
import re
import tomllib
from collections.abc import Callable

from packaging.requirements import Requirement
from packaging.version import Version

from qcompat.errors import QcompatError
from qcompat.upstream.index import Index
from qcompat.upstream.resolver import cpu_build_overrides
from qcompat.upstream.watch import ENGINE, newest_installable


def _day_after(day: str) -> str:
    return (datetime.date.fromisoformat(day) + datetime.timedelta(days=1)).isoformat()


def _uploaded(index: Index, project: str, version: str) -> str:
    return next(r.uploaded for r in index.releases(project) if r.version == Version(version))


def set_keys(text: str, table: str, values: dict[str, str]) -> str:
    """TOML text with `key = VALUE` replaced (value and trailing comment) inside [table], every other line kept."""
    lines, inside, seen = text.splitlines(keepends=True), False, set()
    for i, line in enumerate(lines):
        header = re.match(r"^\[([^\]]+)\]", line)
        if header:
            inside = header.group(1).strip() == table
            continue
        key = re.match(r"^(\w+)\s*=", line)
        if inside and key and key.group(1) in values:
            lines[i] = f"{key.group(1)} = {values[key.group(1)]}\n"
            seen.add(key.group(1))
    missing = set(values) - seen
    if missing:
        raise QcompatError(f"stacks.toml [{table}] has no {', '.join(sorted(missing))} to move")
    return "".join(lines)


def _toml_list(items: list[str]) -> str:
    return "[" + ", ".join(f'"{item}"' for item in items) + "]"


def bump(text: str, name: str, index: Index, progress: Callable[[str], None] = lambda m: None) -> tuple[str, list[str]]:
    """(stacks.toml moved to the newest installable releases for stack `name`, a line per device said)."""
    entry = tomllib.loads(text).get(name)
    if not isinstance(entry, dict) or entry.get("follows") != "vllm":
        raise QcompatError(f'stacks.toml [{name}] does not follow releases (follows = "vllm"): its pins are chosen')
    said = []
    for device, engine in ENGINE.items():
        table = entry.get(device)
        if not isinstance(table, dict) or "vllm" not in table:
            continue
        state = newest_installable(index, engine, progress)
        target = state.newest_installable
        if target is None:
            raise QcompatError(f"no installable {engine} among its newest releases: {state.line()}")
        skipped = f" ({engine} {state.newest} cannot be installed: {state.why_not})" if not state.installable else ""
        if target == table["vllm"]:
            said.append(f"{name}-{device}: {engine} {target} is the newest installable{skipped}")
            continue
        requires = [r for r in table.get("requires", []) if not r.startswith("transformers")]
        overrides: dict[str, None] = {}
        if device == "cpu":  # the new release's torch builds replace the old ones, torchvision with them
            fresh = cpu_build_overrides(index.requires(engine, Version(target)))
            names = {Requirement(pin).name for pin in fresh}
            kept = [pin for pin in table.get("cpu_overrides", []) if Requirement(pin).name not in names]
            overrides = dict.fromkeys([*kept, *fresh])
        resolution = index.resolve((f"{engine}=={target}", "transformers", *requires), tuple(overrides))
        if not resolution.ok:
            raise QcompatError(f"{engine} {target} with transformers does not resolve: {resolution.message[-300:]}")
        transformers = resolution.versions["transformers"]
        day = max(_uploaded(index, engine, target), _uploaded(index, "transformers", transformers))
        values = {
            "vllm": f'"{target}"',
            "requires": _toml_list([f"transformers=={transformers}", *requires]),
            "as_of": f'"{_day_after(day)}"  # the later upload of {engine} {target} and '
            f"transformers {transformers}: {day}",
        }
        if device == "cpu":
            values["cpu_overrides"] = _toml_list(list(overrides))
        text = set_keys(text, f"{name}.{device}", values)
        said.append(
            f"{name}-{device}: {engine} {table['vllm']} -> {target}, transformers {transformers}, "
            f"as of {_day_after(day)}{skipped}"
        )
    return text, said
