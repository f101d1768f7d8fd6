from __future__ import annotations

from pathlib import Path

import pytest

from qcompat.fixtures import tiny_int4
from selftests.support.planting import copy_checkpoint


@pytest.fixture(scope="session")
def tiny() -> Path:
    path = tiny_int4()
    assert (path / "model.safetensors").is_file(), f"the embedded tiny checkpoint is missing at {path}"
    return path


@pytest.fixture
def tiny_copy(tiny: Path, tmp_path: Path) -> Path:
    return copy_checkpoint(tiny, tmp_path / "ckpt")
