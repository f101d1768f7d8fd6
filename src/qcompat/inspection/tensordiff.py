"""Tensor-by-tensor comparison of two checkpoints, for the reproduce check.

The packed GPTQ parts must match bit for bit. A kept tensor may come back in a wider float dtype (auto-round
on a CPU without native BF16 writes F32, FACTS.md): widening BF16 or F16 to F32 is exact, so such a tensor
matches when its values are equal, and the dtype difference is reported apart, as a fact about the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qcompat.checkpoint import gptq
from qcompat.checkpoint.local import Checkpoint
from qcompat.checkpoint.tensors import as_float32, mapped

PACKED = (".qweight", ".qzeros")
BIT_EXACT = (*PACKED, ".scales", ".g_idx")  # the GPTQ parts of a quantized linear
EXACT_WIDENINGS = {("BF16", "F32"), ("F16", "F32")}


@dataclass(frozen=True)
class TensorDiff:
    name: str
    detail: str  # "only in A", "dtype F16 vs BF16", "max abs difference 0.0123 (17 of 768 values)"

    def line(self) -> str:
        return f"{self.name}: {self.detail}"


@dataclass
class TensorComparison:
    differences: list[TensorDiff] = field(default_factory=list)
    widened: dict[str, tuple[str, str]] = field(default_factory=dict)  # name -> (expected dtype, found dtype)

    def widened_summary(self) -> str:
        """'73 kept tensors BF16 -> F32 (values identical)', or '' when every dtype matched."""
        pairs = sorted(set(self.widened.values()))
        kinds = ", ".join(f"{a} -> {b}" for a, b in pairs)
        return f"{len(self.widened)} kept tensors {kinds} (values identical)" if self.widened else ""


def _values(checkpoint: Checkpoint, name: str) -> np.ndarray:
    record = checkpoint.tensors[name]
    array = np.asarray(mapped(checkpoint, record))
    if name.endswith(PACKED) and record.dtype == "I32" and array.ndim == 2:
        unpack = gptq.unpack_rows if name.endswith(".qweight") else gptq.unpack_cols
        return unpack(array).astype(np.float32)
    return as_float32(array, record.dtype)


def _value_difference(va: np.ndarray, vb: np.ndarray) -> str | None:
    if np.array_equal(va, vb, equal_nan=True):
        return None
    delta = np.abs(va - vb)
    differing = int(np.count_nonzero(delta != 0) + np.count_nonzero(np.isnan(va) != np.isnan(vb)))
    return f"max abs difference {float(np.nanmax(delta)):.6g} ({differing} of {delta.size} values)"


def compare(expected: Checkpoint, found: Checkpoint) -> TensorComparison:
    """Every tensor that differs, with its largest difference (int4 values for packed tensors)."""
    result = TensorComparison()
    result.differences += [
        TensorDiff(name, "only in the expected checkpoint")
        for name in sorted(set(expected.tensors) - set(found.tensors))
    ]
    result.differences += [
        TensorDiff(name, "only in the found checkpoint") for name in sorted(set(found.tensors) - set(expected.tensors))
    ]
    for name in sorted(set(expected.tensors) & set(found.tensors)):
        a, b = expected.tensors[name], found.tensors[name]
        widening = (a.dtype, b.dtype) in EXACT_WIDENINGS and not name.endswith(BIT_EXACT)
        if a.shape != b.shape or (a.dtype != b.dtype and not widening):
            result.differences.append(TensorDiff(name, f"{a.dtype} {list(a.shape)} vs {b.dtype} {list(b.shape)}"))
            continue
        if a.dtype == b.dtype and np.array_equal(
            np.asarray(mapped(expected, a)).view(np.uint8), np.asarray(mapped(found, b)).view(np.uint8)
        ):
            continue
        detail = _value_difference(_values(expected, name), _values(found, name))
        if detail is None and a.dtype == b.dtype:
            detail = "the bits differ where the values are equal (signed zeros or NaN payloads)"
        if detail:
            result.differences.append(TensorDiff(name, detail))
        elif a.dtype != b.dtype:
            result.widened[name] = (a.dtype, b.dtype)
    return result
