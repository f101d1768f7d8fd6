"""Class 2: safetensors files built byte by byte (8-byte little-endian header length, the header JSON, the data),
planted as the tiny INT4's model.safetensors; and sharded indexes that lie.

Each planted file is also handed to the safetensors library (the oracle: `safe_open(path, "np")` and
`safetensors.numpy.load_file`) when the cases are collected. Where the library refuses the file, qcompat must not
exit 0: the case expects 2 whatever it declared. Where the library accepts it, the case expects what it declares:
2 where qcompat is meant to be stricter than the library (a tensor named twice, nesting deeper than 64), 0 or 1 for
a valid but odd file (unsorted offsets, an empty __metadata__, a zero-size tensor). Ids end in -lib-refuses or
-lib-accepts; -stricter-than-lib marks a case whose declared verdict differs from the library's, -lib-refuses-odd
one the library refuses although it was declared odd.
"""

from __future__ import annotations

import functools
import json
import struct
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selftests.support.bad_input import NONCONFORMING, ODD, UNUSABLE, Case, Run, Workspace, tiny
from selftests.support.planting import shard

Pairs = list[tuple[str, Any]]


@functools.cache
def _tiny_parts() -> tuple[tuple[tuple[str, Any], ...], bytes]:
    raw = (tiny() / "model.safetensors").read_bytes()
    length = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + length], object_pairs_hook=list)
    pairs = tuple((name, dict(info)) for name, info in header if name != "__metadata__")
    return pairs, raw[8 + length :]


def parts() -> tuple[Pairs, bytes]:
    pairs, data = _tiny_parts()
    return [(name, json.loads(json.dumps(info))) for name, info in pairs], data


def obj(pairs: Pairs) -> str:
    """A JSON object's text from its pairs, in order, duplicates kept."""
    return "{" + ",".join(f"{json.dumps(key)}:{json.dumps(value)}" for key, value in pairs) + "}"


def encode(header: str | bytes, data: bytes, length: int | None = None, pad: bytes = b" ") -> bytes:
    raw = header.encode() if isinstance(header, str) else header
    if pad:
        raw += pad * (-len(raw) % 8)
    return struct.pack("<Q", len(raw) if length is None else length) + raw + data


def _with(change: Callable[[Pairs, bytes], tuple[str | bytes, bytes] | bytes]) -> Callable[[], bytes]:
    """A file from the tiny's header and data as `change` leaves them (or the whole file it returns)."""

    def build() -> bytes:
        pairs, data = parts()
        made = change(pairs, data)
        if isinstance(made, bytes):
            return made
        header, data = made
        return encode(header, data)

    return build


def _entry(pairs: Pairs, name: str) -> dict:
    return next(info for key, info in pairs if key == name)


def _index_of_size(pairs: Pairs, nbytes: int, skip: int = 0) -> list[int]:
    return [i for i, (_, info) in enumerate(pairs) if info["data_offsets"][1] - info["data_offsets"][0] == nbytes][
        skip:
    ]


def overlapping(pairs: Pairs, data: bytes):
    second = pairs[1][1]
    second["data_offsets"] = [o - 8 for o in second["data_offsets"]]
    return obj(pairs), data


def one_range_for_two(pairs: Pairs, data: bytes):
    size = pairs[0][1]["data_offsets"][1] - pairs[0][1]["data_offsets"][0]
    same = _index_of_size(pairs, size, 1)[0]
    pairs[same][1]["data_offsets"] = list(pairs[0][1]["data_offsets"])
    return obj(pairs), data


def gap(pairs: Pairs, data: bytes):
    cut = pairs[0][1]["data_offsets"][1]
    for _, info in pairs[1:]:
        info["data_offsets"] = [o + 16 for o in info["data_offsets"]]
    return obj(pairs), data[:cut] + b"\0" * 16 + data[cut:]


def trailing(pairs: Pairs, data: bytes):
    return obj(pairs), data + b"\0" * 64


def truncated_data(pairs: Pairs, data: bytes):
    return obj(pairs), data[:-100]


def duplicate_same(pairs: Pairs, data: bytes):
    return obj([*pairs, pairs[0]]), data


def duplicate_other_range(pairs: Pairs, data: bytes):
    size = pairs[0][1]["data_offsets"][1] - pairs[0][1]["data_offsets"][0]
    other = pairs[_index_of_size(pairs, size, 1)[0]]
    return obj([*pairs, (pairs[0][0], other[1])]), data


def entry_key_twice(pairs: Pairs, data: bytes):
    name, info = pairs[0]
    entry = json.dumps(info)[:-1] + ',"dtype":"F16"}'
    return "{" + json.dumps(name) + ":" + entry + "," + obj(pairs[1:])[1:], data


def duplicate_beside_colons(pairs: Pairs, data: bytes):
    """A name stated twice, where a metadata value's colons could stand in for the lost key if colons were not
    counted against every key kept."""
    return obj([("__metadata__", {"format": "pt", "made": "12:00:00"}), *pairs, pairs[0]]), data


def metadata(value: Any, raw: str | None = None):
    def change(pairs: Pairs, data: bytes):
        text = obj([("__metadata__", value), *pairs])
        if raw is not None:
            text = '{"__metadata__":' + raw + "," + obj(pairs)[1:]
        return text, data

    return change


def nested_in_entry(depth: int):
    def change(pairs: Pairs, data: bytes):
        first = json.dumps(pairs[0][1])[:-1] + ',"x":' + "[" * depth + "]" * depth + "}"
        return "{" + json.dumps(pairs[0][0]) + ":" + first + "," + obj(pairs[1:])[1:], data

    return change


def nested_top(depth: int):
    def change(pairs: Pairs, data: bytes):
        return '{"deep":' + "[" * depth + "]" * depth + "," + obj(pairs)[1:], data

    return change


def claimed_length(length: Callable[[int, int], int]):
    """The tiny's own header with its length field replaced (given the true length and the file size)."""

    def change(pairs: Pairs, data: bytes) -> bytes:
        header = obj(pairs).encode()
        header += b" " * (-len(header) % 8)
        return struct.pack("<Q", length(len(header), 8 + len(header) + len(data))) + header + data

    return change


def whole(header: str | bytes, with_data: bool = True, pad: bytes = b" "):
    def change(pairs: Pairs, data: bytes) -> bytes:
        return encode(header, data if with_data else b"", pad=pad)

    return change


def raw_bytes(content: bytes):
    return lambda pairs, data: content


def first_entry(key: str, value: Any, raw: str | None = None):
    """The first tensor's entry with one field set (raw: its JSON text as given, e.g. NaN)."""

    def change(pairs: Pairs, data: bytes):
        info = pairs[0][1]
        if raw is None:
            if value is None:
                info.pop(key, None)
            else:
                info[key] = value
            return obj(pairs), data
        info[key] = "@@"
        return obj(pairs).replace('"@@"', raw, 1), data

    return change


def reversed_order(pairs: Pairs, data: bytes):
    return obj(list(reversed(pairs))), data


def data_reordered(pairs: Pairs, data: bytes):
    """The first two tensors' bytes swapped in the file, their offsets following: valid, not in header order."""
    (_, a), (_, b) = pairs[0], pairs[1]
    a0, a1 = a["data_offsets"]
    b0, b1 = b["data_offsets"]
    b["data_offsets"] = [0, b1 - b0]
    a["data_offsets"] = [b1 - b0, b1 - b0 + a1 - a0]
    return obj(pairs), data[b0:b1] + data[a0:a1] + data[b1:]


def zero_size(where: str):
    def change(pairs: Pairs, data: bytes):
        end = len(data) if where == "end" else len(data) + 8
        return obj([*pairs, ("model.extra.empty", {"dtype": "F32", "shape": [0, 4], "data_offsets": [end, end]})]), data

    return change


def extra_tensor(dtype: str, nbytes: int):
    def change(pairs: Pairs, data: bytes):
        end = len(data)
        entry = {"dtype": dtype, "shape": [nbytes], "data_offsets": [end, end + nbytes]}
        return obj([*pairs, ("model.extra.scales", entry)]), data + b"\x7f" * nbytes

    return change


def padded(pad: bytes):
    def change(pairs: Pairs, data: bytes) -> bytes:
        header = obj(pairs).encode()
        header += pad * (16 - len(header) % 8)
        return struct.pack("<Q", len(header)) + header + data

    return change


def bom(pairs: Pairs, data: bytes):
    return b"\xef\xbb\xbf" + obj(pairs).encode(), data


def leading_spaces(pairs: Pairs, data: bytes):
    return "        " + obj(pairs), data


def entry_not_object(pairs: Pairs, data: bytes):
    return obj([*pairs, ("model.extra.five", 5)]), data


def empty_name(pairs: Pairs, data: bytes):
    _, info = pairs[-1]
    return obj([*pairs[:-1], ("", info)]), data


def not_utf8(pairs: Pairs, data: bytes):
    text = obj(pairs).encode()
    return text.replace(b"model.language_model.norm.weight", b"model.language_model.norm.\xff\xfe", 1), data


def garbage_after_json(pairs: Pairs, data: bytes):
    return obj(pairs) + "xyz", data


def invalid_json(pairs: Pairs, data: bytes):
    return obj(pairs)[:-40], data


def unaligned(pairs: Pairs, data: bytes) -> bytes:
    return encode(obj(pairs), data, pad=b"")


def shape_product_overflow(pairs: Pairs, data: bytes):
    pairs[0][1]["shape"] = [2**32, 2**32, 0 + 2**32]
    return obj(pairs), data


def scalar_shape(pairs: Pairs, data: bytes):
    name = next(n for n, info in pairs if info["shape"] == [1])
    _entry(pairs, name)["shape"] = []
    return obj(pairs), data


# (name, build, declared: "unusable" | "odd" | a tuple of exits, why)
HEADERS: list[tuple[str, Callable[[Pairs, bytes], Any], Any, str]] = [
    ("overlapping-offsets", overlapping, "unusable", ""),
    ("two-tensors-one-range", one_range_for_two, "unusable", ""),
    ("gap-between-tensors", gap, "unusable", ""),
    ("trailing-bytes-after-last-tensor", trailing, "unusable", ""),
    ("data-truncated", truncated_data, "unusable", ""),
    ("duplicate-name-same-entry", duplicate_same, "unusable", "which entry is meant? qcompat refuses even agreeing"),
    ("duplicate-name-other-range", duplicate_other_range, "unusable", ""),
    ("entry-key-twice", entry_key_twice, "unusable", "the C parser would keep the second dtype silently"),
    ("duplicate-name-beside-colons-in-metadata", duplicate_beside_colons, "unusable", ""),
    ("metadata-values-holding-colons", metadata({"format": "pt", "made": "12:00:00"}), "odd", ""),
    ("metadata-list", metadata(["format", "pt"]), "unusable", ""),
    ("metadata-int", metadata(5), "unusable", ""),
    ("metadata-string", metadata("pt"), "unusable", ""),
    ("metadata-non-string-values", metadata({"format": "pt", "total": 5}), "unusable", ""),
    ("metadata-nested-object", metadata({"format": {"name": "pt"}}), "unusable", ""),
    ("metadata-null", metadata(None), "odd", "null reads as absent"),
    ("metadata-empty", metadata({}), "odd", ""),
    ("metadata-valid", metadata({"format": "pt"}), "odd", ""),
    ("metadata-twice", metadata(None, raw='{"format":"pt"},"__metadata__":{"format":"np"}'), "unusable", ""),
    ("nested-100-deep-in-entry", nested_in_entry(100), "unusable", "qcompat bounds nesting at 64"),
    ("nested-130-deep-in-entry", nested_in_entry(130), "unusable", ""),
    ("nested-5000-deep-in-entry", nested_in_entry(5000), "unusable", ""),
    ("nested-5000-deep-top-level", nested_top(5000), "unusable", ""),
    ("nested-100-deep-top-level", nested_top(100), "unusable", "not a tensor entry"),
    ("length-beyond-file", claimed_length(lambda n, size: size * 2), "unusable", ""),
    ("length-one-past-file", claimed_length(lambda n, size: size - 8 + 1), "unusable", ""),
    ("length-max-u64", claimed_length(lambda n, size: 2**64 - 1), "unusable", ""),
    ("length-zero", claimed_length(lambda n, size: 0), "unusable", ""),
    ("length-short-cuts-json", claimed_length(lambda n, size: n // 2), "unusable", ""),
    ("length-long-swallows-data", claimed_length(lambda n, size: n + 64), "unusable", ""),
    ("header-a-list", whole("[1, 2, 3]"), "unusable", ""),
    ("header-a-string", whole('"tensors"'), "unusable", ""),
    ("header-a-number", whole("42"), "unusable", ""),
    ("header-null", whole("null"), "unusable", ""),
    ("header-true", whole("true"), "unusable", ""),
    ("header-invalid-json", invalid_json, "unusable", ""),
    ("header-garbage-after-json", garbage_after_json, "unusable", ""),
    ("header-not-utf8", not_utf8, "unusable", ""),
    ("header-bom", bom, "unusable", ""),
    ("header-nul-padding", padded(b"\0"), "unusable", ""),
    ("header-newline-padding", padded(b"\n"), "odd", "JSON whitespace"),
    ("header-leading-spaces", leading_spaces, "odd", "JSON whitespace"),
    ("header-unaligned-no-padding", unaligned, "odd", "alignment is advice, not the format"),
    ("header-empty-object-no-data", whole("{}", with_data=False), "odd", "a valid file with no tensors: findings"),
    ("header-empty-object-with-data", whole("{}"), "unusable", ""),
    ("file-empty", raw_bytes(b""), "unusable", ""),
    ("file-four-bytes", raw_bytes(b"\x10\0\0\0"), "unusable", ""),
    ("file-only-length", raw_bytes(struct.pack("<Q", 2)), "unusable", ""),
    ("offsets-nan", first_entry("data_offsets", None, raw="[NaN, 1536]"), "unusable", ""),
    ("offsets-float", first_entry("data_offsets", [0.0, 1536.0]), "unusable", ""),
    ("offsets-begin-after-end", first_entry("data_offsets", [1536, 0]), "unusable", ""),
    ("offsets-negative", first_entry("data_offsets", [-1536, 0]), "unusable", ""),
    ("offsets-three", first_entry("data_offsets", [0, 768, 1536]), "unusable", ""),
    ("offsets-string", first_entry("data_offsets", "0-1536"), "unusable", ""),
    ("offsets-missing", first_entry("data_offsets", None), "unusable", ""),
    ("offsets-beyond-u64", first_entry("data_offsets", None, raw="[0, 18446744073709551617]"), "unusable", ""),
    ("offsets-size-disagrees-with-shape", first_entry("shape", [385]), "unusable", ""),
    ("dtype-unknown", first_entry("dtype", "Q4"), "unusable", ""),
    ("dtype-lowercase", first_entry("dtype", "i32"), "unusable", ""),
    ("dtype-number", first_entry("dtype", 32), "unusable", ""),
    ("dtype-missing", first_entry("dtype", None), "unusable", ""),
    ("dtype-F8_E8M0-extra-tensor", extra_tensor("F8_E8M0", 8), NONCONFORMING, "not a dtype of this card"),
    ("shape-negative", first_entry("shape", [-384]), "unusable", ""),
    ("shape-string", first_entry("shape", "384"), "unusable", ""),
    ("shape-float", first_entry("shape", [384.0]), "unusable", ""),
    ("shape-missing", first_entry("shape", None), "unusable", ""),
    ("shape-product-overflows-u64", shape_product_overflow, "unusable", ""),
    ("shape-scalar-for-one-element", scalar_shape, "odd", "a scalar holds one element: a layout finding at most"),
    ("entry-not-an-object", entry_not_object, "unusable", ""),
    ("entry-extra-field", first_entry("comment", "made by hand"), "odd", "unknown fields are ignored"),
    ("tensor-name-empty", empty_name, "odd", "a name the profile does not know: a finding"),
    ("zero-size-tensor-at-end", zero_size("end"), "odd", "a zero-size tensor holds no bytes"),
    ("zero-size-tensor-past-end", zero_size("past"), "unusable", ""),
    ("unsorted-offsets", reversed_order, "odd", "entries need not be in offset order"),
    ("data-not-in-header-order", data_reordered, "odd", "offsets need not follow header order"),
]


def oracle(content: bytes) -> dict[str, Any]:
    """What the safetensors library says of the file: refused when opening it or loading its tensors raises the
    library's own error (a TypeError of numpy's, which has no bfloat16, is numpy's limit, not a verdict)."""
    from safetensors import SafetensorError, safe_open
    from safetensors.numpy import load_file

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "model.safetensors"
        path.write_bytes(content)
        for how, read in (
            ("safe_open", lambda: list(safe_open(str(path), "np").keys())),
            ("load_file", lambda: load_file(str(path))),
        ):
            try:
                read()
            except SafetensorError as exc:
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                return {"refused": True, "by": how, "message": f"{type(exc).__name__}: {text}"[:300]}
            except Exception:  # noqa: BLE001, S112 - numpy cannot hold the dtype: the header was accepted
                continue
    return {"refused": False, "by": "", "message": "accepted"}


def _plant(build: Callable[[], bytes]) -> Callable[[Workspace], Run]:
    def plant(ws: Workspace) -> Run:
        root = ws.checkpoint()
        (root / "model.safetensors").write_bytes(build())
        return Run(["inspect", str(root)], named=("model.safetensors",))

    return plant


def _header_case(name: str, change, declared: Any, why: str) -> Case:
    build = _with(change)
    said = oracle(build())
    wanted = UNUSABLE if declared == "unusable" else ODD if declared == "odd" else declared
    suffix = "-lib-refuses" if said["refused"] else "-lib-accepts"
    if said["refused"]:
        if wanted != UNUSABLE:
            suffix += "-odd" if declared == "odd" else ""
        wanted = UNUSABLE
    elif wanted == UNUSABLE:
        suffix += "-stricter-than-lib"
    return Case(
        f"header-{name.removeprefix('header-')}{suffix}", _plant(build), wanted, "header", why, twin=True, oracle=said
    )


# Sharded checkpoints: the index and the shards disagree.


def _sharded(change: Callable[[Path, list[str]], str]) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        root = ws.checkpoint()
        shards = shard(root, parts=2)
        named = change(root, shards)
        return Run(["inspect", str(root)], named=named if isinstance(named, tuple) else (named,))

    return build


def _index(root: Path) -> dict:
    return json.loads((root / "model.safetensors.index.json").read_text())


def _write_index(root: Path, value: Any) -> None:
    (root / "model.safetensors.index.json").write_text(json.dumps(value))


def tensor_in_two_shards(root: Path, shards: list[str]) -> tuple[str, ...]:
    from selftests.support.safetensors_file import read, write

    first, second = (read(root / name) for name in shards)
    name = next(iter(first))
    write(root / shards[1], {**second, name: first[name]})
    return tuple(shards)


def index_names_missing_shard(root: Path, shards: list[str]) -> str:
    index = _index(root)
    tensor = next(iter(index["weight_map"]))
    index["weight_map"][tensor] = "model-00003-of-00002.safetensors"
    _write_index(root, index)
    return "model-00003-of-00002.safetensors"


def index_names_tensor_not_in_shard(root: Path, shards: list[str]) -> str:
    index = _index(root)
    index["weight_map"]["model.language_model.layers.0.mlp.ghost.weight"] = shards[0]
    _write_index(root, index)
    return "model.language_model.layers.0.mlp.ghost.weight"


def index_path_escapes(root: Path, shards: list[str]) -> str:
    index = _index(root)
    tensor = next(iter(index["weight_map"]))
    index["weight_map"][tensor] = "../outside.safetensors"
    _write_index(root, index)
    return "outside.safetensors"


def index_absolute_path(root: Path, shards: list[str]) -> str:
    index = _index(root)
    tensor = next(iter(index["weight_map"]))
    index["weight_map"][tensor] = "/etc/passwd"
    _write_index(root, index)
    return "/etc/passwd"


def index_a_list(root: Path, shards: list[str]) -> str:
    _write_index(root, [_index(root)])
    return "model.safetensors.index.json"


def index_weight_map_ints(root: Path, shards: list[str]) -> str:
    index = _index(root)
    index["weight_map"] = dict.fromkeys(index["weight_map"], 1)
    _write_index(root, index)
    return "model.safetensors.index.json"


def index_weight_map_list(root: Path, shards: list[str]) -> str:
    index = _index(root)
    index["weight_map"] = list(index["weight_map"])
    _write_index(root, index)
    return "model.safetensors.index.json"


def index_metadata_list(root: Path, shards: list[str]) -> str:
    index = _index(root)
    index["metadata"] = ["total_size", 1]
    _write_index(root, index)
    return "model.safetensors.index.json"


def index_total_size_string(root: Path, shards: list[str]) -> str:
    index = _index(root)
    index["metadata"]["total_size"] = "3 MB"
    _write_index(root, index)
    return "model.safetensors.index.json"


def index_total_size_wrong(root: Path, shards: list[str]) -> str:
    index = _index(root)
    index["metadata"]["total_size"] = 1
    _write_index(root, index)
    return "model.safetensors.index.json"


def index_empty_weight_map(root: Path, shards: list[str]) -> str:
    index = _index(root)
    index["weight_map"] = {}
    _write_index(root, index)
    return "model.safetensors.index.json"


def shard_not_in_index(root: Path, shards: list[str]) -> str:
    """A shard holds a tensor the index does not list."""
    from selftests.support.safetensors_file import Entry, read, write

    entries = read(root / shards[0])
    write(root / shards[0], {**entries, "model.extra.unlisted": Entry("BF16", (8,), b"\0" * 16)})
    return shards[0]


def shard_damaged_header(root: Path, shards: list[str]) -> str:
    path = root / shards[1]
    raw = bytearray(path.read_bytes())
    raw[8:9] = b"["
    path.write_bytes(bytes(raw))
    return shards[1]


def index_and_single_file(root: Path, shards: list[str]) -> str:
    """Both an index and a model.safetensors: which one is the checkpoint?"""
    import shutil

    shutil.copy(tiny() / "model.safetensors", root / "model.safetensors")
    return "model.safetensors"


INDEXES: list[tuple[str, Callable[[Path, list[str]], str], tuple[int, ...], str]] = [
    ("shard-tensor-in-two-shards", tensor_in_two_shards, UNUSABLE, ""),
    ("shard-damaged-header", shard_damaged_header, UNUSABLE, ""),
    ("shard-holds-tensor-index-lacks", shard_not_in_index, NONCONFORMING, "the index is wrong: a finding or refused"),
    ("index-names-missing-shard", index_names_missing_shard, UNUSABLE, ""),
    ("index-names-tensor-no-shard-holds", index_names_tensor_not_in_shard, NONCONFORMING, ""),
    ("index-path-escapes-checkpoint", index_path_escapes, UNUSABLE, "a shard outside the checkpoint"),
    ("index-absolute-path", index_absolute_path, UNUSABLE, "a shard outside the checkpoint"),
    ("index-a-list", index_a_list, UNUSABLE, ""),
    ("index-weight_map-ints", index_weight_map_ints, UNUSABLE, ""),
    ("index-weight_map-list", index_weight_map_list, UNUSABLE, ""),
    ("index-weight_map-empty", index_empty_weight_map, NONCONFORMING, ""),
    ("index-metadata-list", index_metadata_list, NONCONFORMING, "transformers indexes into metadata"),
    ("index-total_size-string", index_total_size_string, ODD, "loaders do not use total_size"),
    ("index-total_size-wrong", index_total_size_wrong, ODD, "loaders do not use total_size"),
    ("index-and-single-file", index_and_single_file, ODD, "engines pick one; a warning at most"),
]


def cases() -> list[Case]:
    found = [_header_case(name, change, declared, why) for name, change, declared, why in HEADERS]
    found += [Case(name, _sharded(change), expect, "header", why, twin=True) for name, change, expect, why in INDEXES]
    return found
