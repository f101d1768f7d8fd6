"""One inspection: read a checkpoint, pick its profile, run the rules (and optionally the numerics)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from qcompat import quantconfig
from qcompat.architecture import ConfigKeyMissing, text_architecture
from qcompat.checkpoint import Checkpoint, read_checkpoint
from qcompat.findings import Finding, has_errors
from qcompat.layout import check_layout
from qcompat.profile import DEFAULT_PROFILE, Profile, load_profile, variant_matching


@dataclass
class Inspection:
    checkpoint: Checkpoint
    profile: Profile
    findings: list[Finding]
    numerics: bool

    @property
    def ok(self) -> bool:
        return not has_errors(self.findings)

    def to_dict(self) -> dict:
        ckpt = self.checkpoint
        return {
            "checkpoint": str(ckpt.root),
            "profile": self.profile.label,
            "numerics": self.numerics,
            "ok": self.ok,
            "total_bytes": ckpt.total_bytes,
            "tensors": len(ckpt.tensors),
            "bytes_by_dtype": ckpt.bytes_by_dtype(),
            "elements_by_dtype": ckpt.elements_by_dtype(),
            "quantized_modules": len(ckpt.gptq_modules()),
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
) -> Inspection:
    checkpoint = read_checkpoint(path)
    chosen = profile_for(checkpoint, profile)
    findings = check_layout(checkpoint, chosen)
    if numerics:
        quant = quantconfig.effective(checkpoint.quant_sources)
        group_size = quant.get("group_size") if quant else None
        if not isinstance(group_size, int) or group_size <= 0:
            group_size = chosen.quantization["group_size"]
        from qcompat.numerics import check_numerics  # numpy only when tensor data is read

        findings += check_numerics(checkpoint, group_size, progress)
    return Inspection(checkpoint, chosen, findings, numerics)
