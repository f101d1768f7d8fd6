"""Property tests: no quantization config and no packed-tensor header makes inspect raise, with or without numerics."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcompat.errors import InputError
from qcompat.inspection.run import inspect_checkpoint
from selftests.support.planting import copy_checkpoint, edit_quantization, edit_tensors
from selftests.support.safetensors_file import Entry

MODULE = "model.language_model.layers.1.mlp.gate_proj"
ODD = st.one_of(st.none(), st.booleans(), st.integers(-2, 300), st.text(max_size=6), st.floats(allow_nan=True))
PATTERNS = st.sampled_from(["-:.*self_attn.*", "-:[", "+:.*mlp.*", ".*q_proj", "model.language_model.layers.1.mlp"])
QUANT_CONFIGS = st.fixed_dictionaries(
    {},
    optional={
        "quant_method": st.one_of(st.sampled_from(["gptq", "auto-round", "awq", "intel/auto-round"]), ODD),
        "checkpoint_format": st.one_of(st.sampled_from(["gptq", "gptq_v2", "marlin"]), ODD),
        "packing_format": st.one_of(st.sampled_from(["auto_round:auto_gptq", "auto_round:auto_awq"]), ODD),
        "bits": st.one_of(st.sampled_from([2, 3, 4, 8, 16]), ODD),
        "group_size": st.one_of(st.sampled_from([-1, 32, 64, 128, 256]), ODD),
        "sym": ODD,
        "desc_act": ODD,
        "dynamic": st.one_of(
            ODD,
            st.dictionaries(
                PATTERNS, st.one_of(st.just({}), st.dictionaries(st.text(max_size=4), ODD, max_size=2)), max_size=3
            ),
        ),
        "extra_config": st.one_of(
            ODD, st.dictionaries(PATTERNS, st.one_of(ODD, st.fixed_dictionaries({"bits": ODD})), max_size=3)
        ),
        "modules_in_block_to_quantize": st.one_of(
            ODD, st.lists(st.lists(st.text(max_size=12), max_size=3), max_size=2)
        ),
    },
)
SHAPES = st.lists(st.integers(0, 400), min_size=0, max_size=2) | st.lists(st.integers(0, 12), min_size=3, max_size=3)


@pytest.fixture(scope="module")
def scratch(tmp_path_factory, tiny: Path) -> Path:
    return copy_checkpoint(tiny, tmp_path_factory.mktemp("properties") / "ckpt")


def _inspect_survives(path: Path) -> None:
    for numerics in (False, True):
        result = inspect_checkpoint(path, numerics=numerics)
        json.dumps(result.to_dict())
        assert [group.line() for group in result.groups]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(config=QUANT_CONFIGS)
def test_no_quantization_config_makes_inspect_raise(config, scratch):
    """Any config survives to findings, except one JSON cannot hold (NaN, Infinity): that file is refused, named."""
    edit_quantization(scratch, lambda q: (q.clear(), q.update(config)))
    if _has_non_finite(config):
        with pytest.raises(InputError, match=r"config\.json: not valid JSON \(-?(NaN|Infinity) is not a JSON value"):
            inspect_checkpoint(scratch)
        return
    _inspect_survives(scratch)


def _has_non_finite(value) -> bool:
    if isinstance(value, dict):
        return any(_has_non_finite(item) for item in value.values())
    if isinstance(value, list):
        return any(_has_non_finite(item) for item in value)
    return isinstance(value, float) and not math.isfinite(value)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    part=st.sampled_from(["qweight", "qzeros", "scales", "g_idx"]),
    dtype=st.sampled_from(["I32", "F16", "BF16", "F32", "I8", "U8"]),
    shape=SHAPES,
)
def test_no_packed_tensor_header_makes_inspect_raise(part, dtype, shape, tiny, tmp_path_factory):
    copy = copy_checkpoint(tiny, tmp_path_factory.mktemp("shapes") / "ckpt")
    edit_tensors(copy, lambda entries: entries.__setitem__(f"{MODULE}.{part}", Entry(dtype, tuple(shape))))
    _inspect_survives(copy)
