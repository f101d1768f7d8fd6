"""Read one tensor's data through a memory map, by the byte range its header gave."""

from __future__ import annotations

import numpy as np

from qcompat.checkpoint.local import Checkpoint, TensorRecord
from qcompat.errors import CheckpointError

_NUMPY = {
    "I32": np.int32,
    "U32": np.uint32,
    "I64": np.int64,
    "I16": np.int16,
    "I8": np.int8,
    "U8": np.uint8,
    "F16": np.float16,
    "F32": np.float32,
    "F64": np.float64,
    "BF16": np.uint16,
    "BOOL": np.bool_,
}


def mapped(checkpoint: Checkpoint, record: TensorRecord) -> np.ndarray:
    """The stored array, memory-mapped read-only (BF16 comes back as its raw uint16 bits)."""
    if record.dtype not in _NUMPY:
        raise CheckpointError(
            checkpoint.root / record.file, f"tensor {record.name}: dtype {record.dtype} not supported"
        )
    if record.numel == 0:
        return np.zeros(record.shape, dtype=_NUMPY[record.dtype])
    return np.memmap(
        checkpoint.root / record.file, dtype=_NUMPY[record.dtype], mode="r", offset=record.begin, shape=record.shape
    )


def as_float32(array: np.ndarray, dtype: str) -> np.ndarray:
    if dtype == "BF16":
        return (np.asarray(array, dtype=np.uint16).astype(np.uint32) << 16).view(np.float32)
    return np.asarray(array, dtype=np.float32)


def read_rows(checkpoint: Checkpoint, record: TensorRecord, start: int, stop: int) -> np.ndarray:
    """Rows [start, stop) of a 2-D tensor, read from the file: only those bytes enter memory."""
    columns = record.shape[1]
    dtype = np.dtype(_NUMPY[record.dtype])
    offset = record.begin + start * columns * dtype.itemsize
    with (checkpoint.root / record.file).open("rb") as handle:
        handle.seek(offset)
        data = handle.read((stop - start) * columns * dtype.itemsize)
    return np.frombuffer(data, dtype=dtype).reshape(stop - start, columns)
