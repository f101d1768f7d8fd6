"""Exporter holdouts stored as deltas against the tiny checkpoints, and rebuilt from them for a test.

A tensor the export shares byte for byte with one of fixtures/tiny/int4 or fixtures/tiny/bf16 (under its own
name or another: exporters rename) is stored as a reference to it; a BF16 tensor the exporter widened to F32
as a reference and a cast; any other tensor in delta.safetensors. The rebuild is checked against the digest of
the export's own tensors (name, dtype, shape, bytes), so a holdout is what the exporter wrote or the rebuild fails.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np

from qcompat.checkpoint.tensors import as_float32
from selftests.support.safetensors_file import Entry, read, write

ROOT = Path(__file__).resolve().parents[2]
HOLDOUTS = ROOT / "fixtures" / "holdouts"
SOURCES = {"int4": ROOT / "fixtures/tiny/int4", "bf16": ROOT / "fixtures/tiny/bf16"}
WEIGHTS, DELTA, MANIFEST = "model.safetensors", "delta.safetensors", "holdout.json"
WIDENED = "bf16 as F32"


def names() -> list[str]:
    return sorted(p.parent.name for p in HOLDOUTS.glob(f"*/{MANIFEST}"))


def manifest(name: str) -> dict:
    return json.loads((HOLDOUTS / name / MANIFEST).read_text())


def digest(entries: dict[str, Entry]) -> str:
    listing = [[n, e.dtype, list(e.shape), hashlib.sha256(e.data).hexdigest()] for n, e in sorted(entries.items())]
    return hashlib.sha256(json.dumps(listing).encode()).hexdigest()


def widen(entry: Entry) -> Entry:
    return Entry("F32", entry.shape, as_float32(np.frombuffer(entry.data, dtype="<u2"), "BF16").tobytes())


def _key(entry: Entry) -> tuple:
    return entry.dtype, entry.shape, hashlib.sha256(entry.data).digest()


def _sources() -> dict[str, dict[str, Entry]]:
    return {label: read(path / WEIGHTS) for label, path in SOURCES.items()}


def store(export: Path, dest: Path, provenance: dict) -> None:
    entries = read(export / WEIGHTS)
    known = {}
    for label, tensors in reversed(_sources().items()):
        for source_name, entry in tensors.items():
            known[_key(entry)] = [label, source_name]
            if entry.dtype == "BF16":
                known[_key(widen(entry))] = [WIDENED, source_name]
    origin, delta = {}, {}
    for name, entry in entries.items():
        if _key(entry) in known:
            origin[name] = known[_key(entry)]
        else:
            delta[name] = entry
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(export, dest, ignore=shutil.ignore_patterns(WEIGHTS, ".cache"))
    write(dest / DELTA, delta)
    record = {
        **provenance,
        "export_sha256": hashlib.sha256((export / WEIGHTS).read_bytes()).hexdigest(),
        "digest": digest(entries),
        "order": list(entries),
        "origin": origin,
    }
    (dest / MANIFEST).write_text(json.dumps(record, indent=1) + "\n")


def materialize(name: str, into: Path) -> Path:
    """fixtures/holdouts/NAME rebuilt as the exporter wrote it, at INTO (which must not exist)."""
    source = HOLDOUTS / name
    record = manifest(name)
    shutil.copytree(source, into, ignore=shutil.ignore_patterns(DELTA, MANIFEST))
    delta, sources = read(source / DELTA), _sources()
    entries = {}
    for tensor in record["order"]:
        if tensor not in record["origin"]:
            entries[tensor] = delta[tensor]
            continue
        label, source_name = record["origin"][tensor]
        if label == WIDENED:
            entries[tensor] = widen(sources["bf16"][source_name])
        else:
            entries[tensor] = sources[label][source_name]
    found = digest(entries)
    if found != record["digest"]:
        raise AssertionError(f"holdout {name}: rebuilt tensors digest {found}, the export's was {record['digest']}")
    write(into / WEIGHTS, entries)
    return into


def stored_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
