"""The scheme a quantization config declares: what it names, and which of its values can be used to read tensors."""

from __future__ import annotations

import pytest

from qcompat.checkpoint.quantconfig import QuantConfig
from qcompat.checkpoint.scheme import declared


def scheme_of(**values):
    return declared(QuantConfig("config.json", values))


@pytest.mark.parametrize(
    ("values", "label"),
    [
        ({"quant_method": "gptq", "bits": 4, "group_size": 128, "sym": True, "desc_act": False}, "gptq v1 W4 g128 sym"),
        (
            {"quant_method": "gptq", "checkpoint_format": "gptq_v2", "bits": 4, "group_size": 128, "sym": True},
            "gptq v2 W4 g128 sym",
        ),
        (
            {"quant_method": "gptq", "bits": 8, "group_size": 64, "sym": False, "desc_act": True},
            "gptq v1 W8 g64 asym desc_act",
        ),
        ({"quant_method": "auto-round", "bits": 4, "group_size": 128, "sym": True}, "auto_round native W4 g128 sym"),
        ({"quant_method": "awq", "bits": 4}, "awq W4 gNone sym=None"),
    ],
)
def test_the_label_names_format_bits_group_symmetry_and_act_order(values, label):
    assert scheme_of(**values).label == label


def test_auto_rounds_own_format_has_no_act_order_and_no_g_idx_and_gptq_leaves_act_order_as_stated():
    native = scheme_of(quant_method="auto-round", bits=4, group_size=128, sym=True)
    assert native.desc_act is False and not native.has_g_idx
    assert scheme_of(quant_method="gptq").desc_act is None and scheme_of(quant_method="gptq").has_g_idx


@pytest.mark.parametrize(
    ("bits", "usable"), [(2, 2), (3, 3), (4, 4), (8, 8), (5, None), (16, None), (True, None), ("4", None), (None, None)]
)
def test_only_bit_widths_gptq_packs_are_used_to_read_shapes(bits, usable):
    assert scheme_of(quant_method="gptq", bits=bits).packed_bits == usable


@pytest.mark.parametrize(("group", "usable"), [(128, 128), (1, 1), (0, None), (-1, None), (True, None), ("128", None)])
def test_only_positive_group_sizes_are_used_to_read_shapes(group, usable):
    assert scheme_of(quant_method="gptq", group_size=group).group == usable


def test_gptq_v2_stores_zero_points_unshifted():
    assert scheme_of(quant_method="gptq", checkpoint_format="gptq_v2").stored_zero_offset == 0
    assert scheme_of(quant_method="gptq").stored_zero_offset == 1
