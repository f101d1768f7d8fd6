"""What the layout rules share while they run: the checkpoint, its profile, what the rules found so far."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from qcompat.checkpoint import quantconfig, scheme
from qcompat.checkpoint.architecture import (
    TextArchitecture,
)
from qcompat.checkpoint.local import Checkpoint
from qcompat.inspection.findings import Finding
from qcompat.inspection.profile import Profile


@dataclass
class Context:
    checkpoint: Checkpoint
    profile: Profile
    arch: TextArchitecture | None = None
    quant: quantconfig.QuantConfig | None = None
    declared: scheme.Scheme | None = None
    findings: list[Finding] = field(default_factory=list)
    claimed: set[str] = field(default_factory=set)
    gptq_modules: list[tuple[str, int, int]] = field(default_factory=list)  # packed as declared: (module, out, in)
    misfits: list[str] = field(default_factory=list)  # packed otherwise than declared, or missing a part
    by_module: dict[str, list[str]] = field(default_factory=dict)  # "a.b.q_proj" -> its tensors
    # known issues a checkpoint meets for lacking a config key, as lines (the registry's, given by the caller: the
    # inspection stage sits below the registry and never imports it)
    known_issues: Callable[[Checkpoint, str], list[str]] = lambda checkpoint, key: []

    def __post_init__(self) -> None:
        for name in self.checkpoint.tensors:
            self.by_module.setdefault(name.rsplit(".", 1)[0], []).append(name)

    @functools.cached_property
    def promised(self) -> scheme.Scheme:
        return scheme.promised(self.profile.quantization)

    @functools.cached_property
    def packing(self) -> scheme.Scheme:
        """The scheme the packed tensors are read with: the declared one, the promised one where it is unusable."""
        declared, promised = self.declared, self.promised
        if declared is None:
            return promised
        return scheme.Scheme(
            declared.method,
            declared.format,
            declared.packed_bits or promised.bits,
            declared.group or promised.group_size,
            declared.sym,
            declared.desc_act,
        )

    def where(self, tensor: str = "") -> dict[str, str]:
        record = self.checkpoint.tensors.get(tensor)
        return {"file": record.file if record else self.checkpoint.weights_file_of(), "tensor": tensor}
