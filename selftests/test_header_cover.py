"""The header reader's cover rule, as the safetensors library states it (tensors sorted by their offsets, each
beginning where the one before ends, the last ending where the data does), held against any set of byte ranges:
its fast path (sorted begins and ends as ints) and its ordered walk must together accept exactly what the rule does."""

from __future__ import annotations

import os

from hypothesis import given, settings
from hypothesis import strategies as st

from qcompat.checkpoint.local import records
from qcompat.errors import CheckpointError

EXAMPLES = int(os.environ.get("QCOMPAT_PROPERTY_EXAMPLES", "40")) * 10
RANGES = st.lists(st.tuples(st.integers(0, 12), st.integers(0, 4)), max_size=6)


def _covers_as_the_library_says(ranges: list[tuple[int, int]], data_size: int) -> bool:
    covered = 0
    for begin, end in sorted(ranges):
        if begin != covered:
            return False
        covered = end
    return covered == data_size


def _header(ranges: list[tuple[int, int]]) -> dict:
    return {
        f"t{i}": {"dtype": "U8", "shape": [end - begin], "data_offsets": [begin, end]}
        for i, (begin, end) in enumerate(ranges)
    }


def _accepted(ranges: list[tuple[int, int]], data_size: int) -> bool:
    try:
        records("model.safetensors", "model.safetensors", _header(ranges), 8, 8 + data_size)
    except CheckpointError:
        return False
    return True


@settings(max_examples=EXAMPLES, deadline=None)
@given(RANGES, st.sampled_from([0, 0, 0, -1, 1]))
def test_any_byte_ranges_are_accepted_exactly_when_they_cover_the_data(spans, past_the_last_end):
    ranges = [(begin, begin + size) for begin, size in spans]
    data_size = max(0, max((end for _, end in ranges), default=0) + past_the_last_end)
    assert _accepted(ranges, data_size) == _covers_as_the_library_says(ranges, data_size)


@settings(max_examples=EXAMPLES, deadline=None)
@given(st.lists(st.integers(0, 4), max_size=8), st.randoms())
def test_a_tiling_in_any_header_order_is_accepted(sizes, random):
    ranges, covered = [], 0
    for size in sizes:
        ranges.append((covered, covered + size))
        covered += size
    random.shuffle(ranges)
    assert _accepted(ranges, covered)


def test_a_zero_size_tensor_inside_another_is_refused():
    assert not _accepted([(0, 4), (2, 2)], 4)
