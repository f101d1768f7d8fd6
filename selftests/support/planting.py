"""Copies of a checkpoint with one defect planted: tensors, configs or files edited in place."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from selftests.support.safetensors_file import Entry, read, write

WEIGHTS = "model.safetensors"
QUANT_FILES = ("config.json", "quantization_config.json", "quantize_config.json")


def copy_checkpoint(source: Path, destination: Path) -> Path:
    shutil.copytree(source, destination)
    return destination


def edit_tensors(root: Path, change: Callable[[dict[str, Entry]], None]) -> None:
    entries = read(root / WEIGHTS)
    change(entries)
    write(root / WEIGHTS, entries)


def edit_config(root: Path, change: Callable[[dict], None]) -> None:
    config = json.loads((root / "config.json").read_text())
    change(config)
    (root / "config.json").write_text(json.dumps(config, indent=2))


def edit_quantization(root: Path, change: Callable[[dict], None]) -> None:
    """The same change in every copy of the quantization config, so they keep agreeing."""
    for name in QUANT_FILES:
        path = root / name
        if not path.is_file():
            continue
        data = json.loads(path.read_text())
        change(data["quantization_config"] if name == "config.json" else data)
        path.write_text(json.dumps(data, indent=2))


def shard(root: Path, parts: int = 2) -> list[str]:
    """Split model.safetensors into `parts` shards with an index, as save_pretrained does."""
    entries = read(root / WEIGHTS)
    names = list(entries)
    size = -(-len(names) // parts)
    weight_map, shards = {}, []
    for number in range(parts):
        filename = f"model-{number + 1:05d}-of-{parts:05d}.safetensors"
        chunk = {name: entries[name] for name in names[number * size : (number + 1) * size]}
        write(root / filename, chunk)
        weight_map |= dict.fromkeys(chunk, filename)
        shards.append(filename)
    total = sum(e.nbytes for e in entries.values())
    (root / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2)
    )
    (root / WEIGHTS).unlink()
    return shards


def quantize_attention_output(root: Path) -> list[str]:
    """Pack every self_attn.o_proj as GPTQ INT4 (auto-round's RTN), as if attention had not been excluded: a
    checkpoint that is no longer MLP-only and that vLLM still loads. Returns the quantized module names."""
    import numpy as np

    from qcompat.checkpoint.gptq import quantize_rtn_full_range
    from qcompat.checkpoint.tensors import as_float32

    group = 128
    quantized = []

    def pack(entries: dict[str, Entry]) -> None:
        for name in [n for n in entries if n.endswith("self_attn.o_proj.weight")]:
            weight = entries.pop(name)
            values = as_float32(np.frombuffer(weight.data, dtype=np.uint16), "BF16").reshape(weight.shape)
            qweight, qzeros, scales, g_idx = quantize_rtn_full_range(values, group)
            module = name.removesuffix(".weight")
            for suffix, array, dtype in (
                ("qweight", qweight, "I32"),
                ("qzeros", qzeros, "I32"),
                ("scales", scales, "F16"),
                ("g_idx", g_idx, "I32"),
            ):
                entries[f"{module}.{suffix}"] = Entry(dtype, array.shape, np.ascontiguousarray(array).tobytes())
            quantized.append(module)

    edit_tensors(root, pack)

    def include_o_proj(config: dict) -> None:
        config["dynamic"] = {k: v for k, v in config.get("dynamic", {}).items() if "o_proj" not in k}
        config["modules_in_block_to_quantize"] = [[*config["modules_in_block_to_quantize"][0], "self_attn.o_proj"]]

    edit_quantization(root, include_o_proj)
    return quantized
