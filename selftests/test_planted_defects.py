"""Each defect planted in a copy of the tiny INT4 is named by exactly its rule, with exit code 1."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from qcompat.cli import main
from qcompat.findings import Severity
from qcompat.inspection import inspect_checkpoint
from selftests.support.planting import edit_config, edit_quantization, edit_tensors, shard
from selftests.support.safetensors_file import Entry

LAYERS = "model.language_model.layers"


def _text(root: Path) -> dict:
    return json.loads((root / "config.json").read_text())["text_config"]


def _gptq_quad(out_features: int, in_features: int, group: int = 128) -> dict[str, Entry]:
    return {
        "qweight": Entry("I32", (in_features // 8, out_features), bytes(in_features * out_features // 2)),
        "qzeros": Entry(
            "I32", (in_features // group, out_features // 8), bytes(in_features // group * out_features // 2)
        ),
        "scales": Entry("F16", (in_features // group, out_features), bytes(in_features // group * out_features * 2)),
        "g_idx": Entry("I32", (in_features,), bytes(in_features * 4)),
    }


def quantized_attention(root: Path) -> None:
    def change(entries):
        weight = entries.pop(f"{LAYERS}.0.self_attn.q_proj.weight")
        out_features, in_features = weight.shape
        for part, entry in _gptq_quad(out_features, in_features).items():
            entries[f"{LAYERS}.0.self_attn.q_proj.{part}"] = entry

    edit_tensors(root, change)


def v_proj_on_full_layer(root: Path) -> None:
    full = _text(root)["layer_types"].index("full_attention")
    edit_tensors(
        root,
        lambda e: e.update({f"{LAYERS}.{full}.self_attn.v_proj.weight": e[f"{LAYERS}.{full}.self_attn.k_proj.weight"]}),
    )


def v_proj_missing_on_sliding_layer(root: Path) -> None:
    edit_tensors(root, lambda e: e.pop(f"{LAYERS}.0.self_attn.v_proj.weight"))


def scales_in_f32(root: Path) -> None:
    def change(entries):
        scales = entries[f"{LAYERS}.0.mlp.gate_proj.scales"]
        values = np.frombuffer(scales.data, dtype=np.float16).astype(np.float32)
        entries[f"{LAYERS}.0.mlp.gate_proj.scales"] = Entry("F32", scales.shape, values.tobytes())

    edit_tensors(root, change)


def qweight_packed_along_columns(root: Path) -> None:
    def change(entries):
        qweight = entries[f"{LAYERS}.0.mlp.up_proj.qweight"]
        entries[f"{LAYERS}.0.mlp.up_proj.qweight"] = Entry("I32", qweight.shape[::-1], qweight.data)

    edit_tensors(root, change)


def mlp_linear_left_bf16(root: Path) -> None:
    text = _text(root)

    def change(entries):
        for part in ("qweight", "qzeros", "scales", "g_idx"):
            del entries[f"{LAYERS}.1.mlp.down_proj.{part}"]
        shape = (text["hidden_size"], text["intermediate_size"])
        entries[f"{LAYERS}.1.mlp.down_proj.weight"] = Entry("BF16", shape, bytes(shape[0] * shape[1] * 2))

    edit_tensors(root, change)


def group_size_64_in_config(root: Path) -> None:
    edit_quantization(root, lambda q: q.update(group_size=64))


def no_modules_in_block_to_quantize(root: Path) -> None:
    edit_quantization(root, lambda q: q.pop("modules_in_block_to_quantize"))


def dynamic_does_not_exclude_attention(root: Path) -> None:
    edit_quantization(root, lambda q: q.update(dynamic={}))


def config_copies_disagree(root: Path) -> None:
    edit_config(root, lambda c: c["quantization_config"].update(desc_act=True))


def index_names_the_wrong_shard(root: Path) -> None:
    first, second = shard(root)
    index_path = root / "model.safetensors.index.json"
    index = json.loads(index_path.read_text())
    moved = next(name for name, file in index["weight_map"].items() if file == first)
    index["weight_map"][moved] = second
    index_path.write_text(json.dumps(index))


def lm_head_untied(root: Path) -> None:
    edit_tensors(root, lambda e: e.update({"lm_head.weight": e["model.language_model.embed_tokens.weight"]}))


DEFECTS = {
    quantized_attention: {"attention.not_quantized"},
    v_proj_on_full_layer: {"attention.v_proj_full"},
    v_proj_missing_on_sliding_layer: {"attention.v_proj_sliding"},
    scales_in_f32: {"tensors.dtype"},
    qweight_packed_along_columns: {"gptq.packing_shape"},
    mlp_linear_left_bf16: {"mlp.quantized"},
    group_size_64_in_config: {"quant.settings", "quant.matches_tensors"},
    no_modules_in_block_to_quantize: {"quant.modules_in_block"},
    dynamic_does_not_exclude_attention: {"quant.dynamic"},
    config_copies_disagree: {"quant.settings", "quant.sources_agree"},
    index_names_the_wrong_shard: {"index.consistent"},
    lm_head_untied: {"config.tied_embeddings"},
}


def error_rules(path: Path) -> set[str]:
    return {f.rule for f in inspect_checkpoint(path).findings if f.severity is Severity.ERROR}


def test_tiny_int4_conforms_with_todays_auto_round_warnings(tiny: Path, capsys):
    result = inspect_checkpoint(tiny)
    assert result.profile.label == "gemma-4-12b-it-int4-mlponly:tiny"
    assert [f.line() for f in result.findings if f.severity is Severity.ERROR] == []
    assert {f.rule for f in result.findings} == {"warn.config_dtype", "warn.scales_f16"}
    assert main(["inspect", str(tiny)]) == 0


@pytest.mark.parametrize("plant", DEFECTS, ids=lambda plant: plant.__name__)
def test_planted_defect_is_named_by_its_rule(plant, tiny_copy: Path, capsys):
    plant(tiny_copy)
    assert error_rules(tiny_copy) == DEFECTS[plant]
    assert main(["inspect", str(tiny_copy)]) == 1
    out = capsys.readouterr().out
    assert all(f"[{rule}]" in out for rule in DEFECTS[plant])


def test_finding_names_file_tensor_expected_and_found(tiny_copy: Path):
    scales_in_f32(tiny_copy)
    (finding,) = [f for f in inspect_checkpoint(tiny_copy).findings if f.rule == "tensors.dtype"]
    assert finding.file == "model.safetensors"
    assert finding.tensor == f"{LAYERS}.0.mlp.gate_proj.scales"
    assert (finding.expected, finding.found) == ("BF16 or F16", "F32")


def test_float16_config_dtype_is_a_warning_not_a_failure(tiny_copy: Path):
    edit_config(tiny_copy, lambda c: c.update(dtype="bfloat16"))
    assert "warn.config_dtype" not in {f.rule for f in inspect_checkpoint(tiny_copy).findings}
    edit_config(tiny_copy, lambda c: c.update(dtype="float16"))
    result = inspect_checkpoint(tiny_copy)
    assert "warn.config_dtype" in {f.rule for f in result.findings}
    assert result.ok


def test_per_layer_config_form_reads_the_same_layers_and_warns(tiny_copy: Path):
    before = inspect_checkpoint(tiny_copy)

    def to_per_layer(config):
        text = config["text_config"]
        global_dim, global_kv = text.pop("global_head_dim"), text.pop("num_global_key_value_heads")
        text["per_layer_config"] = {
            str(i): {"head_dim": global_dim, "num_key_value_heads": global_kv}
            for i, kind in enumerate(text["layer_types"])
            if kind == "full_attention"
        }

    edit_config(tiny_copy, to_per_layer)
    after = inspect_checkpoint(tiny_copy)
    assert after.ok
    assert {f.rule for f in after.findings} - {f.rule for f in before.findings} == {"warn.per_layer_config"}


def test_sharded_copy_conforms(tiny_copy: Path):
    shard(tiny_copy, parts=3)
    assert error_rules(tiny_copy) == set()


def test_missing_engine_files_are_warned_about(tiny_copy: Path):
    (tiny_copy / "tokenizer.json").unlink()
    result = inspect_checkpoint(tiny_copy)
    assert result.ok
    assert any(f.rule == "warn.engine_files" and "tokenizer.json" in f.expected for f in result.findings)
