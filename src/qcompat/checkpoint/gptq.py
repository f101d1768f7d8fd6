"""Reference maths of the GPTQ format: packing, unpacking, dequantization (numpy only).

4-bit: qweight [in/8, out]: word (i, c) holds rows 8i..8i+7 of column c, row 8i+j in bits 4j..4j+3.
qzeros [in/g, out/8]: word (k, i) holds columns 8i..8i+7 of group k the same way. 2- and 8-bit pack 16 and 4
values a word alike (`bits`); 3-bit values straddle words and are not read here.
Zero points are stored as zero-1 ("GPTQ v1"): symmetric 4-bit stores 7 for a true zero point of 8.
"""

from __future__ import annotations

import numpy as np

BITS = 4
PACK = 32 // BITS
MASK = (1 << BITS) - 1
SHIFTS = np.arange(PACK, dtype=np.uint32) * BITS


def pack_rows(values: np.ndarray) -> np.ndarray:
    """[rows, cols] of 0..15 -> int32 [rows/8, cols]."""
    rows, cols = values.shape
    grouped = values.astype(np.uint32).reshape(rows // PACK, PACK, cols)
    return np.bitwise_or.reduce(grouped << SHIFTS[None, :, None], axis=1).view(np.int32)


def unpack_rows(packed: np.ndarray, bits: int = BITS) -> np.ndarray:
    """int32 [rows*bits/32, cols] -> uint8 [rows, cols]."""
    pack = 32 // bits
    shifts = np.arange(pack, dtype=np.uint32) * bits
    words = packed.view(np.uint32)
    values = (words[:, None, :] >> shifts[None, :, None]) & ((1 << bits) - 1)
    return values.reshape(words.shape[0] * pack, words.shape[1]).astype(np.uint8)


def pack_cols(values: np.ndarray) -> np.ndarray:
    """[rows, cols] of 0..15 -> int32 [rows, cols/8]."""
    return np.ascontiguousarray(pack_rows(np.ascontiguousarray(values.T)).T)


def unpack_cols(packed: np.ndarray, bits: int = BITS) -> np.ndarray:
    """int32 [rows, cols*bits/32] -> uint8 [rows, cols]."""
    return np.ascontiguousarray(unpack_rows(np.ascontiguousarray(packed.T), bits).T)


def zero_points(qzeros: np.ndarray, bits: int = BITS, offset: int = 1) -> np.ndarray:
    """True zero points [groups, out] from stored qzeros (v1 stores zero-1: offset 1; v2 offset 0)."""
    stored = unpack_cols(qzeros, bits).astype(np.int16)
    return (stored + offset) & ((1 << bits) - 1)


def dequantize(qweight: np.ndarray, qzeros: np.ndarray, scales: np.ndarray, g_idx: np.ndarray) -> np.ndarray:
    """Whole linear: -> float32 [in, out] (the transpose of torch's weight)."""
    zeros = zero_points(qzeros)
    values = unpack_rows(qweight).astype(np.float32)
    return (values - zeros[g_idx].astype(np.float32)) * scales[g_idx].astype(np.float32)


def quantize_rtn_full_range(
    weight: np.ndarray, group_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """auto-round's symmetric RTN (`--iters 0 --disable_opt_rtn`) of weight [out, in]
    -> (qweight, qzeros, scales, g_idx).

    "Full range": each (group, column) scale carries the sign of its largest-magnitude weight, which lands on
    -8; |scale| is clamped to at least 1e-5; scales are F16; zero points are 8, stored as 7 (GPTQ v1).
    Reproduces auto-round 0.16.1's tensors bit for bit on the tiny checkpoint (a selftest holds it to that).
    """
    out_features, in_features = weight.shape
    grouped = weight.astype(np.float32).T.reshape(in_features // group_size, group_size, out_features)
    low, high = -np.minimum(grouped.min(axis=1), 0), np.maximum(grouped.max(axis=1), 0)
    extreme = np.where(high < low, 1.0, -1.0) * np.maximum(high, low)
    zero = 2 ** (BITS - 1)
    scales = (extreme / zero).astype(np.float16)
    floor = np.float16(1e-5)
    scales = np.where(scales < 0, np.minimum(scales, -floor), np.maximum(scales, floor)).astype(np.float16)
    values = np.clip(np.round(grouped / scales.astype(np.float32)[:, None, :]), -zero, zero - 1) + zero
    qweight = pack_rows(values.astype(np.uint8).reshape(in_features, out_features))
    qzeros = pack_cols(np.full((in_features // group_size, out_features), zero - 1, dtype=np.uint8))
    g_idx = (np.arange(in_features) // group_size).astype(np.int32)
    return qweight, qzeros, scales, g_idx
