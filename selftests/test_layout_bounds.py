"""The size rules hold their ranges inclusively at both ends, and the warnings fire only where they should."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from qcompat.checkpoint.local import read_checkpoint
from qcompat.inspection.layout import check_layout
from qcompat.inspection.profile import load_profile

SIZE_RULES = {"size.total_bytes", "size.element_count"}


def size_findings(tiny: Path, key: str, low_offset: int, high_offset: int) -> set[str]:
    checkpoint = read_checkpoint(tiny)
    measured = {"total_bytes": checkpoint.total_bytes, "element_count": sum(checkpoint.elements_by_dtype().values())}
    profile = load_profile("gemma-4-12b-it-int4-mlponly:tiny")
    bounds = [measured[key] + low_offset, measured[key] + high_offset]
    profile = replace(profile, sizes={**profile.sizes, key: bounds})
    return {f.rule for f in check_layout(checkpoint, profile) if f.rule in SIZE_RULES}


@pytest.mark.parametrize("key", ["total_bytes", "element_count"])
@pytest.mark.parametrize(
    ("low", "high", "fires"),
    [(0, 0, False), (-1, 0, False), (0, 1, False), (1, 2, True), (-2, -1, True)],
    ids=["exactly", "at-high", "at-low", "below-low", "above-high"],
)
def test_size_range_is_inclusive_at_both_ends(tiny: Path, key: str, low: int, high: int, fires: bool):
    assert size_findings(tiny, key, low, high) == ({f"size.{key}"} if fires else set())


def test_size_finding_states_the_range_and_what_was_found(tiny: Path):
    checkpoint = read_checkpoint(tiny)
    profile = load_profile("gemma-4-12b-it-int4-mlponly:tiny")
    profile = replace(profile, sizes={**profile.sizes, "total_bytes": [1000, 2000]})
    (finding,) = [f for f in check_layout(checkpoint, profile) if f.rule == "size.total_bytes"]
    assert (finding.expected, finding.found) == ("1,000-2,000 bytes", f"{checkpoint.total_bytes:,} bytes")
