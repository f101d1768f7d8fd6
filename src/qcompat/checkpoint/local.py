"""Read a checkpoint directory from its configs and safetensors headers, never its tensor data."""

from __future__ import annotations

import json
import math
import struct
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from pathlib import Path
from typing import Any

from qcompat import inputs
from qcompat.errors import CheckpointError, InputError

SINGLE_FILE = "model.safetensors"
INDEX_FILE = "model.safetensors.index.json"
QUANT_CONFIG_FILES = ("quantization_config.json", "quantize_config.json")

DTYPE_BYTES = {
    "BOOL": 1,
    "U8": 1,
    "I8": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
    "I16": 2,
    "U16": 2,
    "F16": 2,
    "BF16": 2,
    "I32": 4,
    "U32": 4,
    "F32": 4,
    "I64": 8,
    "U64": 8,
    "F64": 8,
}


@dataclass(frozen=True)
class TensorRecord:
    name: str
    dtype: str
    shape: tuple[int, ...]
    file: str  # shard name, relative to the checkpoint directory
    begin: int  # absolute byte offsets of the data inside `file`
    end: int

    @property
    def numel(self) -> int:
        return math.prod(self.shape)

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


@dataclass
class Checkpoint:
    root: Path
    config: dict[str, Any]
    quant_sources: dict[str, dict[str, Any]]  # file (or "config.json") -> quantization config found there
    tensors: dict[str, TensorRecord]
    shard_sizes: dict[str, int]
    weight_map: dict[str, str] | None = None  # from the sharded index, when there is one
    index_total_size: int | None = None
    files: frozenset[str] = field(default_factory=frozenset)

    @property
    def total_bytes(self) -> int:
        return sum(self.shard_sizes.values())

    def bytes_by_dtype(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for record in self.tensors.values():
            totals[record.dtype] += record.nbytes
        return dict(totals)

    def elements_by_dtype(self) -> dict[str, int]:
        totals: Counter[str] = Counter()
        for record in self.tensors.values():
            totals[record.dtype] += record.numel
        return dict(totals)

    def packed_modules(self) -> list[str]:
        """Modules stored packed, whatever else they store (a qweight)."""
        return sorted(name.removesuffix(".qweight") for name in self.tensors if name.endswith(".qweight"))

    def kept_linears_by_dtype(self) -> dict[str, int]:
        """Projection weights stored unpacked, counted by dtype."""
        return dict(Counter(r.dtype for n, r in self.tensors.items() if n.endswith("_proj.weight")))

    def gptq_modules(self) -> list[str]:
        """Modules stored GPTQ-packed: a qweight with its qzeros, scales and g_idx."""
        return sorted(
            name.removesuffix(".qweight")
            for name in self.tensors
            if name.endswith(".qweight")
            and all(f"{name.removesuffix('.qweight')}.{part}" in self.tensors for part in ("qzeros", "scales", "g_idx"))
        )

    def weights_file_of(self) -> str:
        return INDEX_FILE if self.weight_map is not None else SINGLE_FILE


def _load_json_object(path: Path) -> dict[str, Any]:
    return inputs.load_json(path, dict)


# Parsed here rather than by huggingface_hub.parse_local_safetensors_file_metadata: importing that costs
# ~120 ms (httpx and the Hub client), more than a whole header-only inspection may take, and it returns
# neither the header length (which locates the data) nor errors for malformed entries. The rules are the format's
# as the safetensors library enforces them (its errors were the oracle: selftests/test_bad_input.py), and stricter
# in two places: a tensor name stated twice is refused even when both entries agree, and nesting is bounded at
# MAX_DEPTH where the library's JSON reader stops at 128.
MAX_HEADER = 100_000_000
MAX_DEPTH = 64
ENTRY_KEYS = ("dtype", "shape", "data_offsets")


def _read_header(path: Path, file_size: int) -> tuple[dict[str, Any], int]:
    with inputs.open_regular(path, "shard") as handle:
        prefix = handle.read(8)
        length = header_length(path, prefix, file_size)
        return parse_header(path, length, handle.read(length)), 8 + length


def header_length(where: Path | str, prefix: bytes, file_size: int) -> int:
    """The header length the 8-byte prefix states, if the file can hold it."""
    if len(prefix) < 8:
        raise CheckpointError(where, "too short to be a safetensors file (no 8-byte header length)")
    length = struct.unpack("<Q", prefix)[0]
    if length > MAX_HEADER:
        raise CheckpointError(where, f"header claims {length} bytes, more than the format allows ({MAX_HEADER})")
    if length > file_size - 8:
        raise CheckpointError(where, f"header claims {length} bytes but the file has only {file_size}")
    return length


def parse_header(where: Path | str, length: int, raw: bytes) -> dict[str, Any]:
    """The header's tensor entries (`__metadata__` checked and dropped)."""
    if raw.startswith(b"\xef\xbb\xbf"):
        raise CheckpointError(where, "safetensors header begins with a byte-order mark (the format's JSON has none)")
    header = _quick_header(raw)
    if header is None:
        try:
            header = inputs.parse_json(where, raw, f"safetensors header JSON of the length it claims ({length} bytes)")
        except InputError as exc:
            raise CheckpointError(where, exc.cause) from None
    if not isinstance(header, dict):
        raise CheckpointError(where, f"safetensors header is a JSON {inputs.type_name(header)}, not an object")
    metadata = header.pop("__metadata__", None)
    if metadata is not None and not (
        isinstance(metadata, dict) and all(isinstance(value, str) for value in metadata.values())
    ):
        found = inputs.type_name(metadata) if not isinstance(metadata, dict) else "an object with non-string values"
        raise CheckpointError(where, f"__metadata__ must be an object of strings to strings, found {found}")
    return header


def _quick_header(raw: bytes) -> dict[str, Any] | None:
    """The header by the C parser alone, where its bytes prove no key is stated twice: every key stated is followed
    by a colon, so the colons in the text (with any inside strings) are at least the keys stated, which are at least
    the keys the parse kept; as many colons as kept keys leaves no room for a key stated twice, at any depth. None:
    the strict reader must decide, and name what is wrong. The strict reader's Python hook per object cost a
    full-scale inspection a fifth of its time."""
    try:
        header = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    if not isinstance(header, dict):
        return None
    kept = len(header)
    for value in header.values():
        if type(value) is not dict:
            return None
        kept += len(value)
    return header if raw.count(b":") == kept else None


def _depth(value: Any) -> int:
    """How deeply a JSON value nests (a scalar is 0), without recursion."""
    deepest, pending = 0, [(value, 1)]
    while pending:
        item, depth = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is not None:
            deepest = max(deepest, depth)
            pending.extend((child, depth + 1) for child in children)
    return deepest


def _are_sizes(values: list[Any]) -> bool:
    """JSON integers >= 0 (a JSON true is a bool, whose type is not int); one loop, not a call per dimension."""
    return all(type(value) is int and value >= 0 for value in values)


def _record(path: Path, shard: str, name: str, info: Any, start: int, size: int) -> TensorRecord:
    if not isinstance(info, dict):
        raise CheckpointError(path, f"tensor {name}: header entry is not an object")
    extra = {key: value for key, value in info.items() if key not in ENTRY_KEYS} if len(info) > 3 else None
    if extra and _depth(extra) + 2 > MAX_DEPTH:
        raise CheckpointError(path, f"tensor {name}: header entry nests deeper than {MAX_DEPTH} levels")
    dtype, shape, offsets = info.get("dtype"), info.get("shape"), info.get("data_offsets")
    if not isinstance(dtype, str) or dtype not in DTYPE_BYTES:
        raise CheckpointError(path, f"tensor {name}: unknown dtype {dtype!r}")
    if not isinstance(shape, list) or not _are_sizes(shape):
        raise CheckpointError(path, f"tensor {name}: shape {shape!r} is not a list of sizes")
    begin, end = offsets if type(offsets) is list and len(offsets) == 2 else (None, None)
    if type(begin) is not int or type(end) is not int or not 0 <= begin <= end:
        raise CheckpointError(path, f"tensor {name}: data_offsets {offsets!r} are not a byte range")
    if end - begin != math.prod(shape) * DTYPE_BYTES[dtype]:
        raise CheckpointError(path, f"tensor {name}: data_offsets {offsets} do not hold {dtype} {shape}")
    if end > size:
        raise CheckpointError(path, f"truncated: tensor {name} ends at data byte {end}, the file holds {size}")
    return TensorRecord(name, dtype, tuple(shape), shard, start + begin, start + end)


def _read_shard(root: Path, shard: str) -> tuple[dict[str, TensorRecord], int]:
    path = root / shard
    inputs.require_file(path, "shard")
    file_size = path.stat().st_size
    header, data_start = _read_header(path, file_size)
    return records(path, shard, header, data_start, file_size), file_size


def records(
    where: Path | str, shard: str, header: dict[str, Any], data_start: int, file_size: int
) -> dict[str, TensorRecord]:
    """The header's tensors, each checked against the bytes the file holds after the header: together they cover
    the data exactly, each byte belonging to one tensor."""
    data_size, path = file_size - data_start, Path(where)
    found = {name: _record(path, shard, name, info, data_start, data_size) for name, info in header.items()}
    if _tile(found.values(), data_start, data_start + data_size):
        return found
    covered, previous = 0, None
    for record in sorted(found.values(), key=attrgetter("begin", "end")):
        begin, end = record.begin - data_start, record.end - data_start
        if begin < covered:
            raise CheckpointError(
                path,
                f"tensor {record.name}: data_offsets [{begin}, {end}] overlap tensor {previous.name}'s"
                f" [{previous.begin - data_start}, {previous.end - data_start}]",
            )
        if begin > covered:
            raise CheckpointError(path, f"data bytes [{covered}, {begin}) belong to no tensor (before {record.name})")
        covered, previous = end, record
    if covered != data_size:
        raise CheckpointError(path, f"{data_size - covered} bytes after the last tensor's data belong to no tensor")
    return found


def _tile(found: Iterable[TensorRecord], start: int, stop: int) -> bool:
    """Whether tensors of nonzero size cover [start, stop) exactly, by sorting ints alone: the first begins at start,
    the last ends at stop, and each other begins where one ends (for nonzero sizes the tensor ending first must be
    the one beginning first, and so on). False: the ordered walk decides, and names what is wrong."""
    begins, ends = [], []
    for record in found:
        if record.end == record.begin:
            return False
        begins.append(record.begin)
        ends.append(record.end)
    begins.sort()
    ends.sort()
    return bool(begins) and begins[0] == start and ends[-1] == stop and begins[1:] == ends[:-1]


def shards_of(root: Path) -> tuple[list[str], dict[str, str] | None, int | None]:
    index_path = root / INDEX_FILE
    if inputs.exists(index_path):
        index = _load_json_object(index_path)
        weight_map = index.get("weight_map")
        if not isinstance(weight_map, dict) or not all(isinstance(v, str) for v in weight_map.values()):
            raise CheckpointError(index_path, "no weight_map of tensor name to shard file")
        metadata = index.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise CheckpointError(index_path, f"metadata must be an object, found {inputs.type_name(metadata)}")
        total = metadata.get("total_size")
        return sorted(set(weight_map.values())), weight_map, total if isinstance(total, int) else None
    if inputs.exists(root / SINGLE_FILE):
        return [SINGLE_FILE], None, None
    raise CheckpointError(root, f"no {SINGLE_FILE} or {INDEX_FILE}: not a safetensors checkpoint")


def _quant_sources(root: Path, config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    sources = {}
    if "quantization_config" in config:
        if not isinstance(config["quantization_config"], dict):
            found = inputs.type_name(config["quantization_config"])
            raise CheckpointError(root / "config.json", f"quantization_config must be an object, found {found}")
        sources["config.json"] = config["quantization_config"]
    for name in QUANT_CONFIG_FILES:
        if inputs.exists(root / name):
            sources[name] = _load_json_object(root / name)
    return sources


def identity(checkpoint: Checkpoint) -> str:
    """sha256 of config.json, the index and every shard's header: what a golden was recorded from."""
    import hashlib  # only here: importing OpenSSL costs a header-only inspection measurable time

    digest = hashlib.sha256(inputs.read_bytes(checkpoint.root / "config.json"))
    if checkpoint.weight_map is not None:
        digest.update(inputs.read_bytes(checkpoint.root / INDEX_FILE))
    for shard in sorted(checkpoint.shard_sizes):
        with inputs.open_regular(checkpoint.root / shard, "shard") as handle:
            length = struct.unpack("<Q", handle.read(8))[0]
            digest.update(handle.read(length))
    return digest.hexdigest()


def weights_digest(checkpoint: Checkpoint) -> str:
    """sha256 of every shard's bytes, headers and data: unlike `identity`, it tells apart two checkpoints of one
    layout (a recalibrated revision, damaged scales). Reads every byte once, streamed."""
    import hashlib

    digest = hashlib.sha256()
    for shard in sorted(checkpoint.shard_sizes):
        with inputs.open_regular(checkpoint.root / shard, "shard") as handle:
            while chunk := handle.read(1 << 20):
                digest.update(chunk)
    return digest.hexdigest()


def generation_eos_ids(root: Path) -> set[int]:
    """The stop tokens of generation_config.json (falling back to config.json's eos_token_id)."""
    for name in ("generation_config.json", "config.json"):
        path = root / name
        if inputs.exists(path):
            eos = _load_json_object(path).get("eos_token_id")
            if eos is not None:
                return set(eos) if isinstance(eos, list) else {eos}
    return set()


def resolve(path: str | Path) -> Path:
    """A local directory, or a Hub repo ORG/NAME[@REVISION] fetched into the Hugging Face cache as needed."""
    candidate = Path(path)
    if candidate.is_dir():
        return candidate
    if candidate.exists():
        raise CheckpointError(candidate, "not a checkpoint directory")
    from qcompat.checkpoint.hub import download, is_repo_spec

    if is_repo_spec(str(path)):
        try:
            return download(str(path))
        except CheckpointError as exc:
            raise CheckpointError(candidate, f"no such directory; as a Hub repo: {exc.cause}") from None
    raise CheckpointError(candidate, "no such directory (nor a Hub repo id ORG/NAME[@REVISION])")


def read_checkpoint(path: str | Path) -> Checkpoint:
    root = resolve(path)
    shards, weight_map, total_size = shards_of(root)
    read = {shard: _read_shard(root, shard) for shard in shards}
    return assemble(
        root,
        {shard: shard_records for shard, (shard_records, _) in read.items()},
        {shard: size for shard, (_, size) in read.items()},
        weight_map,
        total_size,
        frozenset(p.name for p in inputs.list_dir(root)),
    )


def assemble(
    root: Path,
    by_shard: dict[str, dict[str, TensorRecord]],
    shard_sizes: dict[str, int],
    weight_map: dict[str, str] | None,
    total_size: int | None,
    files: frozenset[str],
) -> Checkpoint:
    """A checkpoint from its configs in `root` and its shards' records, wherever the shards were read."""
    config_path = root / "config.json"
    if not inputs.exists(config_path):
        raise CheckpointError(config_path, "missing: not a Hugging Face checkpoint directory")
    config = _load_json_object(config_path)
    tensors: dict[str, TensorRecord] = {}
    for shard, shard_records in by_shard.items():
        for name, record in shard_records.items():
            if name in tensors:
                raise CheckpointError(root / shard, f"tensor {name} is also stored in {tensors[name].file}")
            tensors[name] = record
    return Checkpoint(
        root=root,
        config=config,
        quant_sources=_quant_sources(root, config),
        tensors=tensors,
        shard_sizes=shard_sizes,
        weight_map=weight_map,
        index_total_size=total_size,
        files=files,
    )
