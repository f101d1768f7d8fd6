"""Write safetensors files for planted defects and synthetic layouts (data may be left sparse)."""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

from qcompat.checkpoint.local import DTYPE_BYTES


@dataclass
class Entry:
    dtype: str
    shape: tuple[int, ...]
    data: bytes | None = None  # None: leave a hole (sparse, reads as zeros)

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * DTYPE_BYTES[self.dtype]


def write(path: Path, entries: dict[str, Entry], header_length_lie: int = 0) -> None:
    header, offset = {}, 0
    for name, entry in entries.items():
        header[name] = {
            "dtype": entry.dtype,
            "shape": list(entry.shape),
            "data_offsets": [offset, offset + entry.nbytes],
        }
        offset += entry.nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode()
    encoded += b" " * (-len(encoded) % 8)
    with path.open("wb") as handle:
        handle.write(struct.pack("<Q", len(encoded) + header_length_lie))
        handle.write(encoded)
        start = handle.tell()
        for entry in entries.values():
            if entry.data is not None:
                handle.write(entry.data)
            else:
                handle.seek(entry.nbytes, 1)
        handle.truncate(start + offset)


def read(path: Path) -> dict[str, Entry]:
    """Every tensor with its bytes (small files only)."""
    raw = path.read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + length])
    header.pop("__metadata__", None)
    start = 8 + length
    return {
        name: Entry(
            info["dtype"], tuple(info["shape"]), raw[start + info["data_offsets"][0] : start + info["data_offsets"][1]]
        )
        for name, info in header.items()
    }
