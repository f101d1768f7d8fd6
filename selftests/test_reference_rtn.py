"""The reference maths reproduce auto-round: quantizing the tiny BF16 base gives the tiny INT4 bit for bit."""

from __future__ import annotations

import numpy as np

from qcompat.checkpoint import gptq
from qcompat.checkpoint.local import read_checkpoint
from qcompat.checkpoint.tensors import as_float32, mapped
from qcompat.fixtures import tiny_bf16, tiny_int4


def test_reference_rtn_gives_every_packed_tensor_of_the_tiny_int4():
    base, int4 = read_checkpoint(tiny_bf16()), read_checkpoint(tiny_int4())
    modules = int4.gptq_modules()
    assert len(modules) == 18
    for module in modules:
        weight = as_float32(mapped(base, base.tensors[f"{module}.weight"]), "BF16")
        for part, made in zip(("qweight", "qzeros", "scales", "g_idx"), gptq.quantize_rtn_full_range(weight, 128)):
            stored = np.asarray(mapped(int4, int4.tensors[f"{module}.{part}"]))
            assert made.tobytes() == stored.tobytes(), f"{module}.{part} differs from auto-round's"
