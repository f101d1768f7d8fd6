"""The registry read from YAML once, every entry validated: specifiers parse, CPU flags and FlashInfer-kernel values
are ones the probe records, phases are known, signatures are regexes; a bad entry is one error naming it."""

from __future__ import annotations

import functools
import re
from pathlib import Path
from typing import Any

from packaging.specifiers import InvalidSpecifier, SpecifierSet

from qcompat import inputs
from qcompat.checkpoint.local import Checkpoint
from qcompat.env.probe import CPU_FLAGS
from qcompat.errors import QcompatError
from qcompat.fixtures import fixtures_dir
from qcompat.registry.issues import FLASHINFER_KERNELS, PHASES, KnownIssue, Registry, checkpoint_facts
from qcompat.registry.schema import check_registry


def _validate_conditions(raw: dict[str, Any], where: str) -> None:
    """Every specifier parses and every CPU flag is one the probe records, in the cases too."""
    for spec in raw.get("affected", {}).values():
        SpecifierSet(spec)
    for key in ("compute_capability", "cuda_toolkit"):
        if key in raw.get("hardware", {}):
            SpecifierSet(raw["hardware"][key])
    kernels = raw.get("hardware", {}).get("flashinfer_kernels")
    if kernels is not None and kernels not in FLASHINFER_KERNELS:
        raise QcompatError(
            f"{where}: hardware.flashinfer_kernels is {kernels!r}; one of {', '.join(FLASHINFER_KERNELS)}"
        )
    for key in ("cpu_has", "cpu_lacks"):
        unknown = set(raw.get("hardware", {}).get(key, [])) - set(CPU_FLAGS)
        if unknown:
            raise QcompatError(
                f"{where}: hardware.{key} names {sorted(unknown)}; the probe records {', '.join(CPU_FLAGS)}"
            )
    for case in raw.get("cases", []):
        _validate_conditions(case, f"{where}: a case")


def _issue(raw: dict[str, Any], path: Path) -> KnownIssue:
    where = f"{path}: issue {raw.get('id', '?')}"
    try:
        affected = {package: SpecifierSet(spec) for package, spec in raw["affected"].items()}
        _validate_conditions(raw, where)
        phases = tuple(raw["phase"]) if isinstance(raw["phase"], list) else (raw["phase"],)
        if not phases or any(phase not in PHASES for phase in phases):
            raise QcompatError(f"{where}: phase {raw['phase']!r} is not one of {', '.join(PHASES)} (or a list of them)")
        return KnownIssue(
            id=raw["id"],
            title=raw["title"],
            component=raw["component"],
            affected=affected,
            phases=phases,
            signature=re.compile(raw["signature"]),
            hardware=raw.get("hardware", {}),
            checkpoint=raw.get("checkpoint", {}),
            env=raw.get("env", {}),
            workaround=raw.get("workaround", {}),
            links=raw.get("links", {}),
            evidence=tuple(raw.get("evidence", ())),
            cases=tuple(raw.get("cases", ())),
        )
    except KeyError as missing:
        raise QcompatError(f"{where}: missing {missing}") from None
    except InvalidSpecifier as exc:
        raise QcompatError(f"{where}: {exc}") from None
    except re.error as exc:
        raise QcompatError(f"{where}: signature is not a regex ({exc})") from None


def read_yaml(path: Path) -> dict[str, Any]:
    """The registry (or a record: of provenance, of the index) as data: a mapping; an unreadable file, a FIFO, bad
    YAML or another top level is one error naming the file."""
    return inputs.load_yaml(path, dict)


def load_registry(path: Path | None = None) -> Registry:
    path = path or fixtures_dir() / "known_issues.yaml"
    data = read_yaml(path)
    check_registry(data, str(path))
    behaviours = data.get("behaviours", [])
    for behaviour in behaviours:
        where = f"{path}: behaviour {behaviour.get('id', '?')}"
        try:
            _validate_conditions(behaviour, where)
        except InvalidSpecifier as exc:
            raise QcompatError(f"{where}: {exc}") from None
    return Registry([_issue(raw, path) for raw in data["issues"]], behaviours)


@functools.cache
def default_registry() -> Registry:
    return load_registry()


def known_issues_lacking(checkpoint: Checkpoint, key: str) -> list[str]:
    """The registry's entries a checkpoint meets for lacking config `key`, each with its engine and versions: what
    the inspection's quant.modules_in_block finding adds when its caller gives it this."""
    facts = checkpoint_facts(checkpoint)
    return [
        f"known issue {issue.id} ({issue.component} {issue.affected.get(issue.component, '')} on "
        f"{issue.hardware.get('device', 'any device')}): {issue.title}"
        for issue in default_registry().issues.values()
        if issue.checkpoint.get("lacks") == key and issue.checkpoint_matches(facts)
    ]
