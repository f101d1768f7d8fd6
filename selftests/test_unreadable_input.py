"""Input that cannot be read exits 2 with one line naming the file, never a traceback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qcompat.cli import main
from selftests.support.planting import shard


def missing_shard(root: Path) -> str:
    _, second = shard(root)
    (root / second).unlink()
    return second


def truncated_shard(root: Path) -> str:
    path = root / "model.safetensors"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return "model.safetensors"


def header_length_lies(root: Path) -> str:
    path = root / "model.safetensors"
    raw = bytearray(path.read_bytes())
    raw[0:8] = (int.from_bytes(raw[0:8], "little") + 16).to_bytes(8, "little")
    path.write_bytes(bytes(raw))
    return "model.safetensors"


def header_length_beyond_file(root: Path) -> str:
    path = root / "model.safetensors"
    raw = bytearray(path.read_bytes())
    raw[0:8] = (len(raw) * 2).to_bytes(8, "little")
    path.write_bytes(bytes(raw))
    return "model.safetensors"


def random_bytes(root: Path) -> str:
    (root / "model.safetensors").write_bytes(bytes(range(256)) * 64)
    return "model.safetensors"


def config_not_json(root: Path) -> str:
    (root / "config.json").write_text('{"architectures": [')
    return "config.json"


def no_config(root: Path) -> str:
    (root / "config.json").unlink()
    return "config.json"


def no_weights(root: Path) -> str:
    (root / "model.safetensors").unlink()
    return str(root)


def index_without_weight_map(root: Path) -> str:
    shard(root)
    (root / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}}))
    return "model.safetensors.index.json"


UNREADABLE = [
    missing_shard,
    truncated_shard,
    header_length_lies,
    header_length_beyond_file,
    random_bytes,
    config_not_json,
    no_config,
    no_weights,
    index_without_weight_map,
]


@pytest.mark.parametrize("break_it", UNREADABLE, ids=lambda f: f.__name__)
def test_unreadable_checkpoint_exits_2_naming_the_file(break_it, tiny_copy: Path, capsys):
    named = break_it(tiny_copy)
    assert main(["inspect", str(tiny_copy)]) == 2
    captured = capsys.readouterr()
    assert named in captured.err
    assert "Traceback" not in captured.err + captured.out
    assert len(captured.err.strip().splitlines()) == 1


def test_nonexistent_path_exits_2(tmp_path: Path, capsys):
    assert main(["inspect", str(tmp_path / "nowhere")]) == 2
    assert "nowhere" in capsys.readouterr().err


def test_unknown_profile_exits_2(tiny: Path, capsys):
    assert main(["inspect", str(tiny), "--profile", "no-such-profile"]) == 2
    assert "unknown profile" in capsys.readouterr().err
