"""One inspection: read a checkpoint, pick its profile, run the rules (and optionally the numerics)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from qcompat.checkpoint.architecture import ConfigKeyMissing, text_architecture
from qcompat.checkpoint.local import Checkpoint, read_checkpoint
from qcompat.errors import QcompatError
from qcompat.inspection.findings import Finding, has_errors
from qcompat.inspection.grouping import FindingGroup, group
from qcompat.inspection.layout import KnownIssues, run_layout
from qcompat.inspection.profile import DEFAULT_PROFILE, Profile, load_profile, variant_matching

if TYPE_CHECKING:
    from qcompat.checkpoint.remote import Fetched


@dataclass
class Inspection:
    checkpoint: Checkpoint
    profile: Profile
    findings: list[Finding]
    numerics: bool
    scheme: str = ""  # what the quantization config declares, e.g. "gptq v1 W4 g128 sym"
    numerics_modules: int = 0  # modules whose values were read
    remote: Fetched | None = None  # read header-only over HTTP: what was fetched

    @property
    def source(self) -> str:
        return f"{self.remote.repo}@{self.remote.revision}" if self.remote else str(self.checkpoint.root)

    @property
    def groups(self) -> list[FindingGroup]:
        return group(self.findings)

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)

    def to_dict(self) -> dict:
        ckpt = self.checkpoint
        return {
            "checkpoint": self.source,
            "remote": self.remote.to_dict() if self.remote else None,
            "profile": self.profile.label,
            "numerics": self.numerics,
            "numerics_modules": self.numerics_modules,
            "scheme": self.scheme,
            "ok": self.ok,
            "total_bytes": ckpt.total_bytes,
            "tensors": len(ckpt.tensors),
            "bytes_by_dtype": ckpt.bytes_by_dtype(),
            "elements_by_dtype": ckpt.elements_by_dtype(),
            "packed_modules": len(ckpt.packed_modules()),
            "kept_linears_by_dtype": ckpt.kept_linears_by_dtype(),
            "groups": [g.to_dict() for g in self.groups],
            "findings": [f.to_dict() for f in self.findings],
        }


def profile_for(checkpoint: Checkpoint, spec: str | None) -> Profile:
    """NAME:VARIANT as given; a bare NAME takes the variant whose sizes the config states."""
    spec = spec or DEFAULT_PROFILE
    if ":" in spec or spec.endswith((".yaml", ".yml")):
        return load_profile(spec)
    profile = load_profile(spec)
    try:
        found = text_architecture(checkpoint.config).sizes()
    except ConfigKeyMissing:
        return profile
    return load_profile(spec, variant_matching(profile, found))


def inspect_checkpoint(
    path: str | Path,
    profile: str | None = None,
    numerics: bool = False,
    progress: Callable[[str], None] | None = None,
    remote: bool = False,
    known_issues: KnownIssues | None = None,
) -> Inspection:
    """The layout (and, with numerics, the packed weights) against the profile; known_issues(checkpoint, key) adds
    the registry's lines to a finding about a missing config key (the CLI and the suite give it)."""
    fetched = None
    if remote:
        if numerics:
            raise QcompatError("--numerics reads the packed weights, which --remote never downloads: drop one")
        from qcompat.checkpoint.remote import read_remote

        checkpoint, fetched = read_remote(str(path))
    else:
        checkpoint = read_checkpoint(path)
    chosen = profile_for(checkpoint, profile)
    layout = run_layout(checkpoint, chosen, known_issues)
    findings = layout.findings
    modules = [module for module, _, _ in layout.gptq_modules]
    read = 0
    if numerics:
        from qcompat.inspection.numerics import READABLE_BITS, check_numerics  # numpy only when tensor data is read

        findings += check_numerics(checkpoint, layout.packing, modules, layout.misfits, progress)
        read = len(modules) if layout.packing.bits in READABLE_BITS else 0
    declared = layout.declared.label if layout.declared else "no quantization config"
    return Inspection(checkpoint, chosen, findings, numerics, declared, read, fetched)
