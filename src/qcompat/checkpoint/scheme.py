"""The quantization scheme a checkpoint declares (format, bits, group size, symmetry, act-order), read first."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from qcompat.checkpoint.quantconfig import QuantConfig

AUTO_ROUND_METHODS = ("auto-round", "auto_round", "intel/auto-round")
SUPPORTED_BITS = (2, 3, 4, 8)  # GPTQ's packings; 3-bit values straddle int32 words


@dataclass(frozen=True)
class Scheme:
    method: Any
    format: str  # "gptq v1", "gptq v2", "auto_round native", or what the config names
    bits: Any
    group_size: Any
    sym: Any
    desc_act: Any

    @property
    def label(self) -> str:
        """gptq v1 W4 g128 sym; a value of the wrong type shows as written (W'4', sym='true'), so a label never
        reads as the promise it breaks."""
        symmetry = ("sym" if self.sym else "asym") if isinstance(self.sym, bool) else f"sym={self.sym!r}"
        order = " desc_act" if self.desc_act is True else ""
        return f"{self.format} W{_shown(self.bits)} g{_shown(self.group_size)} {symmetry}{order}"

    @property
    def packed_bits(self) -> int | None:
        """Bits per value when GPTQ has a packing for them, else None (nothing can be said of the shapes)."""
        return self.bits if self.bits in SUPPORTED_BITS and not isinstance(self.bits, bool) else None

    @property
    def group(self) -> int | None:
        usable = isinstance(self.group_size, int) and not isinstance(self.group_size, bool) and self.group_size > 0
        return self.group_size if usable else None

    @property
    def has_g_idx(self) -> bool:
        """auto-round's own format stores no g_idx: its groups are always i // group_size."""
        return self.format != "auto_round native"

    @property
    def stored_zero_offset(self) -> int:
        """What the stored zero point is less than the true one: 1 in GPTQ v1 (and auto-round's gptq packing)."""
        return 0 if self.format == "gptq v2" else 1

    def differences(self, promised: Scheme) -> list[str]:
        names = ("format", "bits", "group_size", "sym", "desc_act")
        return [name for name in names if getattr(self, name) != getattr(promised, name)]


def _shown(value: Any) -> str:
    return str(value) if isinstance(value, int) and not isinstance(value, bool) else repr(value)


def declared(quant: QuantConfig) -> Scheme:
    method = quant.get("quant_method")
    if method in AUTO_ROUND_METHODS:
        fmt = "auto_round native"
    elif method == "gptq":
        checkpoint_format = quant.get("checkpoint_format")
        if checkpoint_format is None or isinstance(checkpoint_format, str):
            fmt = {None: "gptq v1", "gptq": "gptq v1", "gptq_v2": "gptq v2"}.get(
                checkpoint_format, f"gptq {checkpoint_format}"
            )
        else:
            fmt = f"gptq {checkpoint_format!r}"
    else:
        fmt = str(method)
    desc_act = quant.get("desc_act", False if fmt == "auto_round native" else None)  # it has no act-order
    return Scheme(method, fmt, quant.get("bits"), quant.get("group_size"), quant.get("sym"), desc_act)


def promised(quantization: dict) -> Scheme:
    return Scheme(
        quantization["quant_method"],
        "gptq v1",
        quantization["bits"],
        quantization["group_size"],
        quantization["sym"],
        quantization["desc_act"],
    )
