"""Each defect planted in a copy of the tiny INT4 is named by exactly its rule, with exit code 1."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from qcompat.cli import main
from qcompat.inspection.findings import Severity
from qcompat.inspection.run import inspect_checkpoint
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


def wrong_architecture(root: Path) -> None:
    edit_config(root, lambda c: c.update(architectures=["Gemma3ForCausalLM"]))


def values_not_reusing_keys(root: Path) -> None:
    edit_config(root, lambda c: c["text_config"].update(attention_k_eq_v=False))


def layer_type_moved(root: Path) -> None:
    edit_config(root, lambda c: c["text_config"]["layer_types"].__setitem__(0, "full_attention"))


def layer_types_unstated(root: Path) -> None:
    edit_config(root, lambda c: c["text_config"].pop("layer_types"))


def untied_in_config(root: Path) -> None:
    edit_config(root, lambda c: c["text_config"].update(tie_word_embeddings=False))


def kept_norm_in_f32(root: Path) -> None:
    def change(entries):
        norm = entries[f"{LAYERS}.2.input_layernorm.weight"]
        entries[f"{LAYERS}.2.input_layernorm.weight"] = Entry("F32", norm.shape, bytes(len(norm.data) * 2))

    edit_tensors(root, change)


def kept_norm_missing(root: Path) -> None:
    edit_tensors(root, lambda e: e.pop(f"{LAYERS}.2.input_layernorm.weight"))


def kept_norm_twice_as_long(root: Path) -> None:
    def change(entries):
        norm = entries[f"{LAYERS}.2.self_attn.q_norm.weight"]
        entries[f"{LAYERS}.2.self_attn.q_norm.weight"] = Entry("BF16", (norm.shape[0] * 2,), norm.data * 2)

    edit_tensors(root, change)


def g_idx_missing(root: Path) -> None:
    edit_tensors(root, lambda e: e.pop(f"{LAYERS}.3.mlp.gate_proj.g_idx"))


def qzeros_in_f32(root: Path) -> None:
    def change(entries):
        qzeros = entries[f"{LAYERS}.3.mlp.up_proj.qzeros"]
        entries[f"{LAYERS}.3.mlp.up_proj.qzeros"] = Entry("F32", qzeros.shape, qzeros.data)

    edit_tensors(root, change)


def unknown_tensor(root: Path) -> None:
    edit_tensors(root, lambda e: e.update({"model.language_model.extra.weight": Entry("BF16", (2,), bytes(4))}))


def vision_embedder_in_f32(root: Path) -> None:
    projection = Entry("F32", (4, 4), bytes(64))
    edit_tensors(root, lambda e: e.update({"model.embed_vision.embedding_projection.weight": projection}))


def _reshape(root: Path, name: str, shape: tuple[int, ...]) -> None:
    def change(entries):
        entries[name] = Entry(entries[name].dtype, shape)

    edit_tensors(root, change)


def qweight_with_no_rows(root: Path) -> None:
    _reshape(root, f"{LAYERS}.1.mlp.down_proj.qweight", (0, 256))


def scales_with_no_rows(root: Path) -> None:
    _reshape(root, f"{LAYERS}.1.mlp.down_proj.scales", (0, 256))


def scales_with_more_rows_than_inputs(root: Path) -> None:
    """More groups than input features: no group size could pack that (it would be 0)."""
    _reshape(root, f"{LAYERS}.1.mlp.down_proj.scales", (512, 256))


def bits_8_in_config(root: Path) -> None:
    edit_quantization(root, lambda q: q.update(bits=8))


def checkpoint_format_gptq_v2(root: Path) -> None:
    edit_quantization(root, lambda q: q.update(checkpoint_format="gptq_v2"))


def checkpoint_format_gptq_v2_without_modules_in_block(root: Path) -> None:
    edit_quantization(root, lambda q: (q.update(checkpoint_format="gptq_v2"), q.pop("modules_in_block_to_quantize")))


def checkpoint_format_unknown(root: Path) -> None:
    edit_quantization(root, lambda q: q.update(checkpoint_format="marlin"))


def no_quantization_config(root: Path) -> None:
    edit_config(root, lambda c: c.pop("quantization_config"))
    for name in ("quantization_config.json", "quantize_config.json"):
        (root / name).unlink(missing_ok=True)


def modules_in_block_lacks_down_proj(root: Path) -> None:
    edit_quantization(root, lambda q: q.update(modules_in_block_to_quantize=[["mlp.gate_proj", "mlp.up_proj"]]))


def dynamic_excludes_an_mlp_linear(root: Path) -> None:
    edit_quantization(root, lambda q: q["dynamic"].update({r"-:.*layers\.0\.mlp\.down_proj.*": {}}))


def norm_stored_gptq_packed(root: Path) -> None:
    def change(entries):
        norm = entries.pop(f"{LAYERS}.2.input_layernorm.weight")
        for part, entry in _gptq_quad(norm.shape[0], 128).items():
            entries[f"{LAYERS}.2.input_layernorm.{part}"] = entry

    edit_tensors(root, change)


def bits_missing_from_config(root: Path) -> None:
    edit_quantization(root, lambda q: q.pop("bits"))


def group_size_missing_from_config(root: Path) -> None:
    edit_quantization(root, lambda q: q.pop("group_size"))


def _edit_index(root: Path, change) -> None:
    shard(root)
    path = root / "model.safetensors.index.json"
    index = json.loads(path.read_text())
    change(index["weight_map"])
    path.write_text(json.dumps(index))


def stored_tensor_not_indexed(root: Path) -> None:
    _edit_index(root, lambda weight_map: weight_map.pop(f"{LAYERS}.0.input_layernorm.weight"))


def indexed_tensor_in_no_shard(root: Path) -> None:
    _edit_index(root, lambda weight_map: weight_map.update({"model.ghost.weight": "model-00001-of-00002.safetensors"}))


# Each defect and exactly the errors it must raise: rule -> how many findings.
DEFECTS = {
    quantized_attention: {"attention.not_quantized": 1},
    v_proj_on_full_layer: {"attention.v_proj_full": 1},
    v_proj_missing_on_sliding_layer: {"attention.v_proj_sliding": 1},
    scales_in_f32: {"tensors.dtype": 1},
    qweight_packed_along_columns: {"gptq.packing_shape": 1},
    mlp_linear_left_bf16: {"mlp.quantized": 1},
    group_size_64_in_config: {"quant.settings": 1, "quant.matches_tensors": 18},
    no_modules_in_block_to_quantize: {"quant.modules_in_block": 1},
    dynamic_does_not_exclude_attention: {"quant.dynamic": 23},
    config_copies_disagree: {"quant.settings": 1, "quant.sources_agree": 1},
    index_names_the_wrong_shard: {"index.consistent": 1},
    lm_head_untied: {"config.tied_embeddings": 1},
    wrong_architecture: {"config.architecture": 1},
    # The full layer then reads as one that needs its own v_proj.
    values_not_reusing_keys: {"config.layer_types": 1, "attention.v_proj_sliding": 1},
    # Layer 0 then reads as full: its q/k/o/norm shapes and its v_proj are wrong for that.
    layer_type_moved: {"config.layer_types": 1, "tensors.shape": 5, "attention.v_proj_full": 1},
    untied_in_config: {"config.tied_embeddings": 1},
    kept_norm_in_f32: {"tensors.dtype": 1},
    kept_norm_missing: {"tensors.missing": 1},
    kept_norm_twice_as_long: {"tensors.shape": 1},
    g_idx_missing: {"tensors.missing": 1},
    qzeros_in_f32: {"tensors.dtype": 1},
    unknown_tensor: {"tensors.unexpected": 1},
    vision_embedder_in_f32: {"tensors.dtype": 1},
    bits_8_in_config: {"quant.settings": 1, "quant.matches_tensors": 18},
    # Shapes no packing explains: named part by part, never a division by zero.
    qweight_with_no_rows: {"gptq.packing_shape": 1},
    scales_with_no_rows: {"gptq.packing_shape": 1},
    scales_with_more_rows_than_inputs: {"gptq.packing_shape": 1},
    checkpoint_format_gptq_v2: {"quant.checkpoint_format": 1},
    checkpoint_format_gptq_v2_without_modules_in_block: {"quant.checkpoint_format": 1, "quant.modules_in_block": 1},
    checkpoint_format_unknown: {"quant.checkpoint_format": 1},
    no_quantization_config: {"quant.settings": 1},
    modules_in_block_lacks_down_proj: {"quant.modules_in_block": 1},
    dynamic_excludes_an_mlp_linear: {"quant.dynamic": 1},
    stored_tensor_not_indexed: {"index.consistent": 1},
    indexed_tensor_in_no_shard: {"index.consistent": 1},
    # Not an attention projection: the norm is missing and its packed parts are unexpected.
    norm_stored_gptq_packed: {"tensors.missing": 1, "tensors.unexpected": 4},
    # quant.settings names the missing key; the packed shapes are not compared with a value that is not there.
    bits_missing_from_config: {"quant.settings": 1},
    group_size_missing_from_config: {"quant.settings": 1},
}


def error_rules(path: Path, profile: str | None = None) -> dict[str, int]:
    findings = inspect_checkpoint(path, profile).findings if profile else inspect_checkpoint(path).findings
    return dict(Counter(f.rule for f in findings if f.severity is Severity.ERROR))


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
    assert error_rules(tiny_copy) == {}


def test_missing_engine_files_are_warned_about(tiny_copy: Path):
    (tiny_copy / "tokenizer.json").unlink()
    result = inspect_checkpoint(tiny_copy)
    assert result.ok
    assert any(f.rule == "warn.engine_files" and "tokenizer.json" in f.expected for f in result.findings)


def vocab_doubled_in_config(root: Path) -> None:
    edit_config(root, lambda c: c["text_config"].update(vocab_size=1024))


# Held against the tiny profile by name: these change what the profile picker would match.
TINY_PROFILE_DEFECTS = {
    vocab_doubled_in_config: {"config.sizes": 1, "tensors.shape": 1},
    layer_types_unstated: {"config.text_config": 1},
}


@pytest.mark.parametrize("plant", TINY_PROFILE_DEFECTS, ids=lambda plant: plant.__name__)
def test_planted_config_defect_is_named_by_its_rule_against_the_tiny_profile(plant, tiny_copy: Path):
    plant(tiny_copy)
    assert error_rules(tiny_copy, "gemma-4-12b-it-int4-mlponly:tiny") == TINY_PROFILE_DEFECTS[plant]


def test_every_error_rule_fires_on_some_planted_defect():
    from qcompat.inspection.layout import RULES
    from selftests.test_layout_bounds import SIZE_RULES

    fired = {rule for rules in [*DEFECTS.values(), *TINY_PROFILE_DEFECTS.values()] for rule in rules} | SIZE_RULES
    assert fired == {rule for rule in RULES if not rule.startswith("warn.")}


@pytest.mark.parametrize(
    ("plant", "found"),
    [
        (lm_head_untied, "tie_word_embeddings True, lm_head.weight present"),
        (untied_in_config, "tie_word_embeddings False, lm_head.weight absent"),
    ],
)
def test_untied_embeddings_say_which_of_config_and_tensor_is_wrong(plant, found: str, tiny_copy: Path):
    plant(tiny_copy)
    (finding,) = [f for f in inspect_checkpoint(tiny_copy).findings if f.rule == "config.tied_embeddings"]
    assert finding.found == found


def test_a_gptq_v2_export_is_named_with_what_a_standard_loader_does_to_it(tiny_copy: Path):
    checkpoint_format_gptq_v2(tiny_copy)
    (finding,) = [f for f in inspect_checkpoint(tiny_copy).findings if f.rule == "quant.checkpoint_format"]
    assert (finding.expected, finding.found) == ("gptq (v1) or absent", "gptq_v2")
    assert finding.message.startswith("checkpoint_format gptq_v2 is not GPTQ v1: gptqmodel's v2 stores zero points")
    assert "every weight one quantization step off, silently" in finding.message


def test_an_explicit_gptq_v1_format_is_accepted(tiny_copy: Path):
    edit_quantization(tiny_copy, lambda q: q.update(checkpoint_format="gptq"))
    assert "quant.checkpoint_format" not in error_rules(tiny_copy)


def test_float16_stated_only_in_the_text_config_is_warned_about(tiny_copy: Path):
    def move_dtype(config):
        config.pop("dtype", None)
        config.pop("torch_dtype", None)
        config["text_config"]["dtype"] = "float16"

    edit_config(tiny_copy, move_dtype)
    assert "warn.config_dtype" in {f.rule for f in inspect_checkpoint(tiny_copy).findings}


def test_one_f16_scales_tensor_among_bf16_ones_is_counted_and_its_file_named(tiny_copy: Path):
    def to_bf16_but_one(entries):
        for name in [n for n in entries if n.endswith(".scales")][1:]:
            scales = entries[name]
            values = np.frombuffer(scales.data, dtype=np.float16).astype(np.float32)
            entries[name] = Entry("BF16", scales.shape, (values.view(np.uint32) >> 16).astype(np.uint16).tobytes())

    edit_tensors(tiny_copy, to_bf16_but_one)
    (warning,) = [f for f in inspect_checkpoint(tiny_copy).findings if f.rule == "warn.scales_f16"]
    assert warning.message.startswith("1 scales tensors are F16")
    assert warning.file == "model.safetensors"


def _chat_template_only_in(root: Path, tokenizer_config: str | None) -> set[str]:
    (root / "chat_template.jinja").unlink()
    if tokenizer_config is not None:
        (root / "tokenizer_config.json").write_text(tokenizer_config)
    return {f.expected for f in inspect_checkpoint(root).findings if f.rule == "warn.engine_files"}


def test_a_chat_template_inside_tokenizer_config_counts(tiny_copy: Path):
    config = json.loads((tiny_copy / "tokenizer_config.json").read_text())
    assert _chat_template_only_in(tiny_copy, json.dumps(config | {"chat_template": "{{ messages }}"})) == set()


@pytest.mark.parametrize("tokenizer_config", [None, "{not json"], ids=["without-the-key", "unreadable"])
def test_no_chat_template_anywhere_is_warned_about(tiny_copy: Path, tokenizer_config: str | None):
    missing = "chat template (chat_template.jinja or chat_template.json or tokenizer_config.json:chat_template)"
    assert _chat_template_only_in(tiny_copy, tokenizer_config) == {missing}


def test_a_quantized_attention_projection_is_named_with_what_it_stores(tiny_copy: Path):
    quantized_attention(tiny_copy)
    (finding,) = [f for f in inspect_checkpoint(tiny_copy).findings if f.rule == "attention.not_quantized"]
    assert finding.tensor == f"{LAYERS}.0.self_attn.q_proj.qweight"
    assert (finding.expected, finding.found) == ("weight BF16", "g_idx I32, qweight I32, qzeros I32, scales F16")


def test_a_config_that_misstates_the_packing_says_what_the_tensors_are(tiny_copy: Path):
    group_size_64_in_config(tiny_copy)
    findings = [f for f in inspect_checkpoint(tiny_copy).findings if f.rule == "quant.matches_tensors"]
    assert {f.message for f in findings} == {"the config declares W4 g64 but the tensors are packed W4 g128"}
    assert {(f.expected, f.found) for f in findings} == {("W4 g128 in the config", "W4 g64")}


def test_numerics_name_a_module_they_skip_for_a_missing_part(tiny_copy: Path):
    g_idx_missing(tiny_copy)
    skipped = [f for f in inspect_checkpoint(tiny_copy, numerics=True).findings if f.rule == "numerics.skipped"]
    assert [f.tensor for f in skipped] == [f"{LAYERS}.3.mlp.gate_proj.qweight"]
