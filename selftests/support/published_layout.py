"""The published checkpoint's layout at full scale (1109 tensors, ~11.3 GB in 3 shards), from FACTS.md sizes.

Headers are real; data is sparse unless asked for, so a full-scale layout costs no disk.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np

from qcompat.checkpoint import gptq
from selftests.support.safetensors_file import Entry, write

HIDDEN, INTERMEDIATE, LAYERS, HEADS, KV, HEAD_DIM, GLOBAL_HEAD_DIM, VOCAB, GROUP = (
    3840,
    15360,
    48,
    16,
    8,
    256,
    512,
    262144,
    128,
)
ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]


def config() -> dict:
    excluded = {rf"-:.*model\.language_model\.layers\.\d+\.self_attn\.{m}.*": {} for m in ATTENTION}
    return {
        "architectures": ["Gemma4UnifiedForConditionalGeneration"],
        "model_type": "gemma4_unified",
        "dtype": "bfloat16",
        "tie_word_embeddings": True,
        "text_config": {
            "model_type": "gemma4_unified_text",
            "hidden_size": HIDDEN,
            "intermediate_size": INTERMEDIATE,
            "num_hidden_layers": LAYERS,
            "num_attention_heads": HEADS,
            "num_key_value_heads": KV,
            "head_dim": HEAD_DIM,
            "global_head_dim": GLOBAL_HEAD_DIM,
            "num_global_key_value_heads": 1,
            "attention_k_eq_v": True,
            "vocab_size": VOCAB,
            "sliding_window": 1024,
            "tie_word_embeddings": True,
            "final_logit_softcapping": 30.0,
            "max_position_embeddings": 262144,
            "layer_types": ["full_attention" if (i + 1) % 6 == 0 else "sliding_attention" for i in range(LAYERS)],
        },
        "quantization_config": {
            "quant_method": "gptq",
            "provider": "auto-round",
            "bits": 4,
            "group_size": GROUP,
            "sym": True,
            "data_type": "int",
            "desc_act": False,
            "true_sequential": False,
            "damp_percent": 0.01,
            "lm_head": False,
            "autoround_version": "0.16.1",
            "dynamic": excluded,
            "modules_in_block_to_quantize": [["mlp.down_proj", "mlp.gate_proj", "mlp.up_proj"]],
        },
    }


@functools.cache
def _valid_gptq_data(out_f: int, in_f: int, scales_dtype: str) -> dict[str, bytes]:
    """Plausible packed data for one linear of this shape (made once, shared by every layer)."""
    rng = np.random.default_rng(out_f + in_f)
    values = rng.integers(0, 16, size=(in_f, out_f), dtype=np.uint8)
    scales = rng.uniform(1e-3, 2e-2, size=(in_f // GROUP, out_f)).astype(np.float32)
    bits = (scales.view(np.uint32) >> 16).astype(np.uint16) if scales_dtype == "BF16" else scales.astype(np.float16)
    return {
        "qweight": gptq.pack_rows(values).tobytes(),
        "qzeros": gptq.pack_cols(np.full((in_f // GROUP, out_f), 7, np.uint8)).tobytes(),
        "scales": bits.tobytes(),
        "g_idx": (np.arange(in_f, dtype=np.int32) // GROUP).tobytes(),
    }


def _gptq_entries(module: str, out_f: int, in_f: int, real: bool, scales_dtype: str) -> dict[str, Entry]:
    shapes = {
        "qweight": ("I32", (in_f // 8, out_f)),
        "qzeros": ("I32", (in_f // GROUP, out_f // 8)),
        "scales": (scales_dtype, (in_f // GROUP, out_f)),
        "g_idx": ("I32", (in_f,)),
    }
    entries = {f"{module}.{p}": Entry(d, s) for p, (d, s) in shapes.items()}
    if real:
        for part, data in _valid_gptq_data(out_f, in_f, scales_dtype).items():
            entries[f"{module}.{part}"].data = data
    return entries


def tensors(real_layers: int = 0, scales_dtype: str = "BF16") -> dict[str, Entry]:
    """Every tensor of the published checkpoint; the first `real_layers` layers' MLPs get valid packed data."""
    entries = {"model.language_model.embed_tokens.weight": Entry("BF16", (VOCAB, HIDDEN))}
    for i in range(LAYERS):
        p = f"model.language_model.layers.{i}."
        full = (i + 1) % 6 == 0
        head_dim, kv = (GLOBAL_HEAD_DIM, 1) if full else (HEAD_DIM, KV)
        for norm in (
            "input_layernorm",
            "post_attention_layernorm",
            "pre_feedforward_layernorm",
            "post_feedforward_layernorm",
        ):
            entries[f"{p}{norm}.weight"] = Entry("BF16", (HIDDEN,))
        entries[f"{p}layer_scalar"] = Entry("BF16", (1,))
        entries[f"{p}self_attn.q_proj.weight"] = Entry("BF16", (HEADS * head_dim, HIDDEN))
        entries[f"{p}self_attn.k_proj.weight"] = Entry("BF16", (kv * head_dim, HIDDEN))
        if not full:
            entries[f"{p}self_attn.v_proj.weight"] = Entry("BF16", (kv * head_dim, HIDDEN))
        entries[f"{p}self_attn.o_proj.weight"] = Entry("BF16", (HIDDEN, HEADS * head_dim))
        entries[f"{p}self_attn.q_norm.weight"] = Entry("BF16", (head_dim,))
        entries[f"{p}self_attn.k_norm.weight"] = Entry("BF16", (head_dim,))
        real = i < real_layers
        entries |= _gptq_entries(f"{p}mlp.gate_proj", INTERMEDIATE, HIDDEN, real, scales_dtype)
        entries |= _gptq_entries(f"{p}mlp.up_proj", INTERMEDIATE, HIDDEN, real, scales_dtype)
        entries |= _gptq_entries(f"{p}mlp.down_proj", HIDDEN, INTERMEDIATE, real, scales_dtype)
    entries["model.language_model.norm.weight"] = Entry("BF16", (HIDDEN,))
    entries["model.embed_vision.embedding_projection.weight"] = Entry("BF16", (HIDDEN, HIDDEN))
    entries["model.embed_audio.embedding_projection.weight"] = Entry("BF16", (HIDDEN, 640))
    v = "model.vision_embedder."
    entries[f"{v}patch_dense.weight"] = Entry("BF16", (HIDDEN, 6912))
    entries[f"{v}patch_dense.bias"] = Entry("BF16", (HIDDEN,))
    for ln, dim in (("patch_ln1", 6912), ("patch_ln2", HIDDEN), ("pos_norm", HIDDEN)):
        entries[f"{v}{ln}.weight"] = Entry("BF16", (dim,))
        entries[f"{v}{ln}.bias"] = Entry("BF16", (dim,))
    entries[f"{v}pos_embedding"] = Entry("BF16", (1120, 2, HIDDEN))
    return entries


def write_checkpoint(root: Path, shards: int = 3, real_layers: int = 0, scales_dtype: str = "BF16") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "config.json").write_text(json.dumps(config(), indent=2))
    entries = tensors(real_layers, scales_dtype)
    names = list(entries)
    total = sum(e.nbytes for e in entries.values())
    weight_map, shard_entries, shard, filled = {}, [{} for _ in range(shards)], 0, 0
    for name in names:
        if filled > (shard + 1) * total / shards and shard < shards - 1:
            shard += 1
        shard_entries[shard][name] = entries[name]
        filled += entries[name].nbytes
    for number, part in enumerate(shard_entries, start=1):
        filename = f"model-{number:05d}-of-{shards:05d}.safetensors"
        write(root / filename, part)
        weight_map |= {name: filename for name in part}
    index = {"metadata": {"total_size": total}, "weight_map": weight_map}
    (root / "model.safetensors.index.json").write_text(json.dumps(index, indent=2))
    return root
