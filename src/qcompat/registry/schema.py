"""The registry's YAML checked against its schema (docs/registry.md) once, when it is read: the matchers, the
planner and the provenance checks never meet a wrong type, and a damaged entry is one error naming the file, the
entry, the key, what it must be and what was found. What the values mean (specifiers parse, flags are probed,
signatures compile) is load.py's to check after this."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from packaging.version import InvalidVersion, Version

from qcompat.errors import QcompatError
from qcompat.inputs import shown, type_name

Check = Callable[[Any], bool]
STATES = ("present", "absent")


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(map(_text, value))


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, int, float, bool))


def _version(value: Any) -> bool:
    try:
        Version(str(value))
    except InvalidVersion:
        return False
    return isinstance(value, (str, int, float)) and not isinstance(value, bool)


def _mapping(check: Check) -> Check:
    return lambda value: isinstance(value, dict) and all(_text(k) and check(v) for k, v in value.items())


def _env_value(value: Any) -> bool:
    return value is None or isinstance(value, str) or (isinstance(value, list) and all(map(_env_value, value)))


HARDWARE: dict[str, tuple[Check, str]] = {
    "device": (_text, "a device name"),
    "compute_capability": (_text, "a specifier string"),
    "cuda_toolkit": (_text, "a specifier string"),
    "cpu_arch": (_text, "a machine name"),
    "cpu_has": (_texts, "a list of CPU flags"),
    "cpu_lacks": (_texts, "a list of CPU flags"),
    "flashinfer_kernels": (_text, "available or disabled"),
}
CONDITIONS: dict[str, tuple[Check, str]] = {
    "affected": (_mapping(_text), "a mapping of package to specifier string"),
    "hardware": (lambda v: isinstance(v, dict), "a mapping"),
    "cases": (lambda v: isinstance(v, list) and all(isinstance(c, dict) for c in v), "a list of mappings"),
}
ENTRY: dict[str, tuple[Check, str]] = {
    "id": (_text, "a string"),
    "title": (_text, "a string"),
    "component": (_text, "a string"),
    "phase": (lambda v: _text(v) or (_texts(v) and bool(v)), "a phase or a list of phases"),
    "signature": (_text, "a regex"),
    "checkpoint": (_mapping(_scalar), "a mapping of key to value"),
    "env": (_mapping(_env_value), "a mapping of variable to a value, null, or a list of them"),
    "workaround": (lambda v: isinstance(v, dict), "a mapping"),
    "links": (lambda v: isinstance(v, dict), "a mapping"),
    "evidence": (_texts, "a list of log files"),
    "provenance": (lambda v: isinstance(v, list) and all(isinstance(c, dict) for c in v), "a list of claims"),
    "log": (_mapping(_text), "a mapping of setting to the log line's regex"),
}
LINKS: dict[str, tuple[Check, str]] = {
    "upstream": (_texts, "a list of OWNER/REPO#N"),
    "fixed_in": (lambda v: v is None or _version(v), "a version or null"),
}
CLAIM: dict[str, tuple[Check, str]] = {
    "package": (_text, "a distribution name"),
    "file": (_text, "a path inside the wheel"),
    "text": (lambda v: isinstance(v, str), "the text to look for"),
    "inside": (lambda v: v in STATES, "present or absent"),
    "outside": (lambda v: v in STATES, "present or absent"),
    "at": (lambda v: isinstance(v, list) and all(map(_version, v)), "a list of versions"),
    "release": (_version, "a version"),
    "pinned_by": (lambda v: _mapping(_text)(v) and len(v) == 1, "one project and its specifier"),
}
REQUIRED_ISSUE = ("id", "title", "component", "affected", "phase", "signature")
REQUIRED_BEHAVIOUR = ("id",)
REQUIRED_CLAIM = ("package", "inside")


def _keys(raw: dict[str, Any], schema: dict[str, tuple[Check, str]], where: str, required: tuple = ()) -> None:
    for key in required:
        if key not in raw:
            raise QcompatError(f"{where}: missing {key!r}")
    for key, (check, expected) in schema.items():
        if key in raw and not check(raw[key]):
            raise QcompatError(f"{where}: {key} must be {expected}, found {shown(raw[key])}"[:400])


def _conditions(raw: dict[str, Any], where: str) -> None:
    _keys(raw, CONDITIONS, where)
    _keys(raw.get("hardware", {}), HARDWARE, f"{where}: hardware")
    for number, case in enumerate(raw.get("cases", []), 1):
        _conditions(case, f"{where}: case #{number}")


def check_entry(raw: Any, where: str, behaviour: bool = False) -> None:
    if not isinstance(raw, dict):
        raise QcompatError(f"{where}: an entry must be a mapping, found {type_name(raw)}")
    _keys(raw, ENTRY, where, REQUIRED_BEHAVIOUR if behaviour else REQUIRED_ISSUE)
    _conditions(raw, where)
    _keys(raw.get("links", {}), LINKS, f"{where}: links")
    for number, claim in enumerate(raw.get("provenance", []), 1):
        _keys(claim, CLAIM, f"{where}: claim #{number}", REQUIRED_CLAIM)


def check_registry(data: dict[str, Any], where: str) -> None:
    if "issues" not in data:
        raise QcompatError(f"{where}: no issues (a list of known-issue entries)")
    for key in ("issues", "behaviours"):
        if not isinstance(data.get(key, []), list):
            raise QcompatError(f"{where}: {key} must be a list of entries, found {type_name(data[key])}")
    seen: set[str] = set()
    for kind, behaviour in (("issues", False), ("behaviours", True)):
        for number, raw in enumerate(data.get(kind, []), 1):
            name = raw.get("id") if isinstance(raw, dict) and isinstance(raw.get("id"), str) else f"#{number}"
            check_entry(raw, f"{where}: {kind[:-1] if kind == 'issues' else 'behaviour'} {name}", behaviour)
            if raw["id"] in seen:
                raise QcompatError(f"{where}: id {raw['id']!r} names two entries")
            seen.add(raw["id"])
