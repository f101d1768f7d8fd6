"""The checkpoint is what the card promises: header-only checks against its profile (marker `static`)."""

from __future__ import annotations

import pytest

from qcompat.suite.card import recipes
from qcompat.suite.rules import broken, consults

pytestmark = pytest.mark.static


@consults("config.architecture", "config.text_config")
def test_architecture_is_gemma4_unified(inspection):
    assert broken(inspection.findings, *test_architecture_is_gemma4_unified.rules) == []


@consults("config.sizes")
def test_sizes_are_the_profiles(inspection):
    assert broken(inspection.findings, *test_sizes_are_the_profiles.rules) == []


@consults("config.layer_types")
def test_every_sixth_layer_is_full_attention_with_the_global_head_dim(inspection):
    assert broken(inspection.findings, *test_every_sixth_layer_is_full_attention_with_the_global_head_dim.rules) == []


@consults("config.tied_embeddings")
def test_embeddings_are_tied(inspection):
    assert broken(inspection.findings, *test_embeddings_are_tied.rules) == []


@consults("quant.settings")
def test_quantization_is_4bit_group_128_symmetric_gptq(inspection):
    assert broken(inspection.findings, *test_quantization_is_4bit_group_128_symmetric_gptq.rules) == []


@consults("quant.checkpoint_format")
def test_packing_is_gptq_v1_as_standard_loaders_read_it(inspection):
    assert broken(inspection.findings, *test_packing_is_gptq_v1_as_standard_loaders_read_it.rules) == []


@consults("quant.matches_tensors")
def test_quantization_config_matches_the_packed_tensors(inspection):
    assert broken(inspection.findings, *test_quantization_config_matches_the_packed_tensors.rules) == []


@consults("quant.sources_agree")
def test_quantization_config_copies_agree(inspection):
    assert broken(inspection.findings, *test_quantization_config_copies_agree.rules) == []


@consults("quant.dynamic")
def test_dynamic_excludes_exactly_the_attention_linears(inspection):
    assert broken(inspection.findings, *test_dynamic_excludes_exactly_the_attention_linears.rules) == []


@consults("quant.modules_in_block")
def test_modules_in_block_to_quantize_lists_the_mlp_linears(inspection):
    assert broken(inspection.findings, *test_modules_in_block_to_quantize_lists_the_mlp_linears.rules) == []


@consults("tensors.missing")
def test_every_expected_tensor_is_present(inspection):
    assert broken(inspection.findings, *test_every_expected_tensor_is_present.rules) == []


@consults("tensors.unexpected")
def test_no_tensor_beyond_the_profile(inspection):
    assert broken(inspection.findings, *test_no_tensor_beyond_the_profile.rules) == []


@consults("tensors.dtype")
def test_dtype_layout_is_packed_i32_and_bf16(inspection):
    assert broken(inspection.findings, *test_dtype_layout_is_packed_i32_and_bf16.rules) == []


@consults("tensors.shape")
def test_kept_tensors_have_the_configured_shapes(inspection):
    assert broken(inspection.findings, *test_kept_tensors_have_the_configured_shapes.rules) == []


@consults("gptq.packing_shape")
def test_mlp_tensors_are_packed_as_gptq(inspection):
    assert broken(inspection.findings, *test_mlp_tensors_are_packed_as_gptq.rules) == []


@consults("attention.not_quantized")
def test_attention_projections_stay_bf16(inspection):
    assert broken(inspection.findings, *test_attention_projections_stay_bf16.rules) == []


@consults("attention.v_proj_full")
def test_full_attention_layers_have_no_v_proj(inspection):
    assert broken(inspection.findings, *test_full_attention_layers_have_no_v_proj.rules) == []


@consults("attention.v_proj_sliding")
def test_sliding_attention_layers_have_a_v_proj(inspection):
    assert broken(inspection.findings, *test_sliding_attention_layers_have_a_v_proj.rules) == []


@consults("mlp.quantized")
def test_mlp_linears_are_int4(inspection):
    assert broken(inspection.findings, *test_mlp_linears_are_int4.rules) == []


@consults("index.consistent")
def test_sharded_index_matches_the_shards(inspection):
    assert broken(inspection.findings, *test_sharded_index_matches_the_shards.rules) == []


@consults("size.total_bytes", "size.element_count")
def test_size_and_element_count_are_the_cards(inspection):
    assert broken(inspection.findings, *test_size_and_element_count_are_the_cards.rules) == []


def test_the_cards_max_model_len_fits_the_checkpoints_positions(inspection):
    """vLLM refuses at startup a --max-model-len above the config's max_position_embeddings (0.32.0,
    vllm/config/model.py `_get_and_verify_max_len`: "User-specified max_model_len (...) is greater than the derived
    max_model_len"), so a checkpoint that cannot take the card's length fails the card's serve command."""
    args = recipes()["serve"]["args"]
    card_length = int(args[args.index("--max-model-len") + 1])
    text_config = inspection.checkpoint.config.get("text_config") or {}
    positions = text_config.get("max_position_embeddings")
    assert isinstance(positions, int) and card_length <= positions, (
        f"config.json text_config.max_position_embeddings is {positions!r}; the card serves with --max-model-len "
        f"{card_length}, which vLLM refuses at startup"
    )
