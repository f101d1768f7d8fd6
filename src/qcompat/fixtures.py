"""Where the shipped fixtures live: inside the wheel, or at the root of a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGED = Path(__file__).parent / "_fixtures"
_SOURCE = Path(__file__).resolve().parents[2] / "fixtures"


def fixtures_dir() -> Path:
    return _PACKAGED if _PACKAGED.is_dir() else _SOURCE


def profiles_dir() -> Path:
    return fixtures_dir() / "profiles"


def tiny_int4() -> Path:
    return fixtures_dir() / "tiny" / "int4"


def tiny_bf16() -> Path:
    return fixtures_dir() / "tiny" / "bf16"
