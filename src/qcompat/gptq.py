"""Reference maths of the GPTQ int4 format: packing, unpacking, dequantization (numpy only).

qweight [in/8, out]: word (i, c) holds rows 8i..8i+7 of column c, row 8i+j in bits 4j..4j+3.
qzeros [in/g, out/8]: word (k, i) holds columns 8i..8i+7 of group k the same way.
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


def unpack_rows(packed: np.ndarray) -> np.ndarray:
    """int32 [rows/8, cols] -> uint8 [rows, cols]."""
    words = packed.view(np.uint32)
    nibbles = (words[:, None, :] >> SHIFTS[None, :, None]) & MASK
    return nibbles.reshape(words.shape[0] * PACK, words.shape[1]).astype(np.uint8)


def pack_cols(values: np.ndarray) -> np.ndarray:
    """[rows, cols] of 0..15 -> int32 [rows, cols/8]."""
    return np.ascontiguousarray(pack_rows(np.ascontiguousarray(values.T)).T)


def unpack_cols(packed: np.ndarray) -> np.ndarray:
    """int32 [rows, cols/8] -> uint8 [rows, cols]."""
    return np.ascontiguousarray(unpack_rows(np.ascontiguousarray(packed.T)).T)


def zero_points(qzeros: np.ndarray, v1: bool = True) -> np.ndarray:
    """True zero points [groups, out] from stored qzeros (v1 stores zero-1)."""
    stored = unpack_cols(qzeros).astype(np.int16)
    return (stored + 1) & MASK if v1 else stored


def dequantize_rows(qweight_rows: np.ndarray, zeros: np.ndarray, scales: np.ndarray) -> np.ndarray:
    """Rows of one group: int32 [g/8, out], zeros [out], scales [out] -> float32 [g, out]."""
    values = unpack_rows(qweight_rows).astype(np.float32)
    return (values - zeros.astype(np.float32)) * scales.astype(np.float32)


def dequantize(qweight: np.ndarray, qzeros: np.ndarray, scales: np.ndarray, g_idx: np.ndarray) -> np.ndarray:
    """Whole linear: -> float32 [in, out] (the transpose of torch's weight)."""
    zeros = zero_points(qzeros)
    values = unpack_rows(qweight).astype(np.float32)
    return (values - zeros[g_idx].astype(np.float32)) * scales[g_idx].astype(np.float32)


def quantize_rtn_symmetric(
    weight: np.ndarray, group_size: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Round-to-nearest symmetric int4 of weight [out, in] -> (qweight, qzeros, scales, g_idx), v1 zeros.

    A reference for tests of the format, not a reimplementation of auto-round's rounding.
    """
    out_features, in_features = weight.shape
    grouped = weight.astype(np.float32).T.reshape(in_features // group_size, group_size, out_features)
    scales = np.abs(grouped).max(axis=1) / (2 ** (BITS - 1) - 1)
    scales[scales == 0] = 1.0
    zero = 2 ** (BITS - 1)
    values = np.clip(np.round(grouped / scales[:, None, :]) + zero, 0, MASK).astype(np.uint8)
    qweight = pack_rows(values.reshape(in_features, out_features))
    qzeros = pack_cols(np.full((in_features // group_size, out_features), zero - 1, dtype=np.uint8))
    g_idx = (np.arange(in_features) // group_size).astype(np.int32)
    return qweight, qzeros, scales.astype(np.float16), g_idx
