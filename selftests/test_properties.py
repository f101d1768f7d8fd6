"""Property tests: the int4 packing round-trips; the reader fails on junk only with its own error."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from qcompat.checkpoint import gptq
from qcompat.checkpoint.local import read_checkpoint
from qcompat.errors import CheckpointError

nibbles = st.integers(1, 4).flatmap(
    lambda rows: st.integers(1, 5).flatmap(
        lambda cols: arrays(np.uint8, (rows * 8, cols * 8), elements=st.integers(0, 15))
    )
)


@given(nibbles)
def test_int4_rows_round_trip(values):
    assert np.array_equal(gptq.unpack_rows(gptq.pack_rows(values)), values)


@given(nibbles)
def test_int4_columns_round_trip(values):
    assert np.array_equal(gptq.unpack_cols(gptq.pack_cols(values)), values)


@given(arrays(np.float32, (8, 256), elements=st.floats(-4, 4, width=32)))
def test_full_range_rtn_dequantizes_within_one_step(weight):
    qweight, qzeros, scales, g_idx = gptq.quantize_rtn_full_range(weight, group_size=128)
    restored = gptq.dequantize(qweight, qzeros, scales, g_idx)
    step = np.abs(scales.astype(np.float32))[g_idx]
    assert np.all(np.abs(restored - weight.T) <= step * 1.0 + 1e-3), "the side opposite the extreme clamps at +7"
    assert np.all(qzeros.view(np.uint32) == 0x77777777)


def _checkpoint_with(tmp_path: Path, weights: bytes) -> Path:
    root = tmp_path / "junk"
    root.mkdir(exist_ok=True)
    (root / "config.json").write_text("{}")
    (root / "model.safetensors").write_bytes(weights)
    return root


settings_for_files = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@settings_for_files
@given(st.binary(max_size=512))
def test_reader_given_arbitrary_bytes_raises_only_its_own_error(tmp_path, junk):
    try:
        read_checkpoint(_checkpoint_with(tmp_path, junk))
    except CheckpointError:
        pass


@settings_for_files
@given(st.binary(max_size=256), st.integers(0, 300))
def test_reader_given_arbitrary_headers_raises_only_its_own_error(tmp_path, header, extra):
    try:
        read_checkpoint(_checkpoint_with(tmp_path, struct.pack("<Q", len(header)) + header + bytes(extra)))
    except CheckpointError:
        pass


json_headers = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 2**40) | st.text(max_size=6),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=12,
)


@settings_for_files
@given(st.dictionaries(st.sampled_from(["t", "__metadata__", "w"]), json_headers, max_size=3), st.integers(0, 64))
def test_reader_given_arbitrary_json_headers_raises_only_its_own_error(tmp_path, header, extra):
    import json

    encoded = json.dumps(header).encode()
    try:
        read_checkpoint(_checkpoint_with(tmp_path, struct.pack("<Q", len(encoded)) + encoded + bytes(extra)))
    except CheckpointError:
        pass
