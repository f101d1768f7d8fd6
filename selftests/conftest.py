from __future__ import annotations

from pathlib import Path

import pytest

from qcompat.fixtures import tiny_int4
from selftests.support.planting import copy_checkpoint


@pytest.fixture(scope="session", autouse=True)
def offline_index(tmp_path_factory: pytest.TempPathFactory):
    """The selftests never ask the package index: a release's requirements come from the committed upstream record
    alone (not from this machine's wheel cache either), so every machine judges the same."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("QCOMPAT_INDEX_OFFLINE", "1")
        patch.setenv("QCOMPAT_WHEEL_CACHE", str(tmp_path_factory.mktemp("wheel-cache")))
        yield


@pytest.fixture(scope="session")
def tiny() -> Path:
    path = tiny_int4()
    assert (path / "model.safetensors").is_file(), f"the embedded tiny checkpoint is missing at {path}"
    return path


@pytest.fixture
def tiny_copy(tiny: Path, tmp_path: Path) -> Path:
    return copy_checkpoint(tiny, tmp_path / "ckpt")
