"""The published checkpoint's layout at full scale (sparse files) conforms to the published profile."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcompat.inspection.findings import Severity
from qcompat.inspection.run import inspect_checkpoint
from selftests.support.published_layout import write_checkpoint


@pytest.fixture(scope="module")
def published(tmp_path_factory) -> Path:
    return write_checkpoint(tmp_path_factory.mktemp("published") / "ckpt")


def test_full_scale_layout_has_the_cards_numbers(published: Path):
    result = inspect_checkpoint(published)
    assert result.profile.label == "gemma-4-12b-it-int4-mlponly"
    assert len(result.checkpoint.tensors) == 1109
    assert len(result.checkpoint.shard_sizes) == 3
    assert set(result.checkpoint.bytes_by_dtype()) == {"I32", "BF16"}
    assert 11.2e9 < result.checkpoint.total_bytes < 11.4e9
    assert [f.line() for f in result.findings if f.severity is Severity.ERROR] == []
    assert {f.rule for f in result.findings} == {"warn.engine_files"}, "BF16 scales and dtype: no layout warning"


def test_full_scale_layout_fails_the_tiny_variant(published: Path):
    result = inspect_checkpoint(published, "gemma-4-12b-it-int4-mlponly:tiny")
    assert "config.sizes" in {f.rule for f in result.findings if f.severity is Severity.ERROR}
