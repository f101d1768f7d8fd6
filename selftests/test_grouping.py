"""Findings grouped by cause: one line per rule broken the same way, causes first, names in a compact list."""

from __future__ import annotations

from qcompat.inspection.findings import error, warning
from qcompat.inspection.grouping import compact, group, spans

LAYERS = "model.language_model.layers"


def test_one_rule_on_many_tensors_is_one_line_with_a_count_and_a_compact_list():
    findings = [
        error(
            "tensors.dtype",
            "kept tensor has the wrong dtype",
            file="model.safetensors",
            tensor=f"{LAYERS}.{i}.{name}",
            expected="BF16",
            found="F32",
        )
        for i in range(6)
        for name in ("input_layernorm.weight", "self_attn.q_proj.weight")
    ]
    (only,) = group(findings)
    assert only.line() == (
        "[tensors.dtype] model.safetensors: kept tensor has the wrong dtype: 12 times "
        "(layers 0-5: input_layernorm.weight, self_attn.q_proj.weight) (expected BF16, found F32)"
    )


def test_a_single_finding_reads_as_it_always_did():
    finding = error("quant.settings", "bits differ", file="config.json", expected="4", found="8")
    assert [g.line() for g in group([finding])] == [finding.line()]


def test_differing_expectations_show_the_first_and_how_many_differ():
    findings = [
        error(
            "gptq.packing_shape",
            "GPTQ qweight is not packed as W4 g128 of its linear",
            tensor=f"{LAYERS}.0.mlp.{m}.qweight",
            expected=e,
            found=f,
        )
        for m, e, f in (("gate_proj", "[32, 384]", "[64, 384]"), ("down_proj", "[48, 256]", "[96, 256]"))
    ]
    assert group(findings)[0].line().endswith("(first: expected [32, 384], found [64, 384]; 2 different)")


def test_names_outside_the_layers_follow_them_and_long_lists_are_capped():
    names = [
        f"{LAYERS}.1.mlp.up_proj",
        "model.embed_vision.weight",
        "model.vision_embedder.pos_embedding",
        "model.language_model.norm.weight",
        "lm_head.weight",
    ]
    assert compact(names) == (
        "layers 1: mlp.up_proj; model.embed_vision.weight; model.vision_embedder.pos_embedding; +2 more"
    )


def test_layer_spans_read_as_ranges_and_lone_layers():
    assert spans([5, 0, 1, 2, 11, 3, 12]) == "0-3, 5, 11, 12"
    assert compact([f"{LAYERS}.5", f"{LAYERS}.11"]) == "layers 5, 11"


def test_causes_come_first_then_other_errors_then_warnings():
    findings = [
        warning("warn.scales_f16", "F16 scales"),
        error("size.total_bytes", "too big"),
        error("tensors.dtype", "wrong dtype", tensor="a"),
        error("quant.settings", "another scheme"),
    ]
    assert [g.rule for g in group(findings)] == [
        "quant.settings",
        "size.total_bytes",
        "tensors.dtype",
        "warn.scales_f16",
    ]


def test_a_group_lists_its_tensors_in_json_and_says_nothing_of_expectations_it_lacks():
    findings = [
        error("index.consistent", "stored tensor missing from the index", tensor=f"{LAYERS}.{i}.mlp.up_proj")
        for i in range(3)
    ]
    (only,) = group(findings)
    assert only.to_dict()["tensors"] == "layers 0-2: mlp.up_proj"
    assert only.line() == "[index.consistent] stored tensor missing from the index: 3 times (layers 0-2: mlp.up_proj)"


def test_exactly_as_many_names_as_shown_need_no_more():
    assert compact(["a.weight", "b.weight", "c.weight"]) == "a.weight; b.weight; c.weight"
    rests = [f"{LAYERS}.0.{name}" for name in ("a", "b", "c", "d")]
    assert compact(rests[:3]) == "layers 0: a, b, c"
    assert compact(rests) == "layers 0: a, b, c, +1 more"
    assert spans([4, 5, 6]) == "4-6" and spans([4, 5]) == "4, 5"


def test_a_detail_with_only_what_was_found_is_still_shown():
    findings = [
        error("tensors.unexpected", "tensor the profile does not expect", tensor=f"{LAYERS}.{i}.extra", found="F32 [4]")
        for i in range(2)
    ]
    assert group(findings)[0].line().endswith("(expected , found F32 [4])")
