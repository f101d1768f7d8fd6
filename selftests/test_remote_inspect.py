"""`qcompat inspect ORG/NAME[@REV] --remote` against a Hub of our own on loopback, through the real
huggingface_hub client: the same verdicts as a local inspect, and nothing of the weights but their headers."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from selftests.support.fake_hub import FakeHub
from selftests.support.planting import copy_checkpoint, edit_quantization, shard

REPO = Path(__file__).resolve().parents[1]


def _header_bytes(path: Path) -> int:
    with path.open("rb") as handle:
        return 8 + struct.unpack("<Q", handle.read(8))[0]


@pytest.fixture(scope="module")
def repos(tiny: Path, tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("hub")
    sharded = copy_checkpoint(tiny, root / "sharded")
    shard(sharded, parts=3)
    broken = copy_checkpoint(tiny, root / "broken")
    edit_quantization(broken, lambda q: q.update(bits=8))
    return {"org/tiny": tiny, "org/tiny-sharded": sharded, "org/tiny-broken": broken}


@pytest.fixture
def hub(repos):
    with FakeHub(repos) as running:
        yield running


def hub_env(hub: FakeHub, home: Path) -> dict[str, str]:
    """This process's environment pointed at the loopback Hub, with its own cache, online."""
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HOME": str(home), "HF_HUB_DISABLE_TELEMETRY": "1"}
    env.pop("HF_HUB_OFFLINE", None)
    return env


def inspect(hub: FakeHub, home: Path, *args: str) -> subprocess.CompletedProcess:
    env = hub_env(hub, home)
    return subprocess.run(
        [sys.executable, "-m", "qcompat.cli", "inspect", *args, "--remote"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_remote_inspect_of_the_tiny_conforms_reading_only_its_header(hub, repos, tmp_path):
    result = inspect(hub, tmp_path, "org/tiny", "--json")
    assert result.returncode == 0, result.stderr
    remote = json.loads(result.stdout)["remote"]
    assert remote["commit"] == hub.repos["org/tiny"][0]
    assert hub.sent_for("org/tiny", "model.safetensors") == _header_bytes(repos["org/tiny"] / "model.safetensors")
    assert remote["bytes"] < remote["repo_bytes"] / 20


def test_remote_inspect_of_a_sharded_copy_judges_as_a_local_one(hub, repos, tmp_path):
    local = subprocess.run(
        [sys.executable, "-m", "qcompat.cli", "inspect", str(repos["org/tiny-sharded"]), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    result = inspect(hub, tmp_path, "org/tiny-sharded", "--json")
    assert result.returncode == local.returncode == 0, result.stderr
    assert json.loads(result.stdout)["findings"] == json.loads(local.stdout)["findings"]
    shards = sorted(p for p in repos["org/tiny-sharded"].glob("model-*.safetensors"))
    assert len(shards) == 3
    for path in shards:
        assert hub.sent_for("org/tiny-sharded", path.name) == _header_bytes(path), path.name


def test_a_hub_that_ignores_ranges_gets_the_same_verdict(repos, tmp_path):
    with FakeHub(repos, honour_ranges=False) as ignoring:
        result = inspect(ignoring, tmp_path, "org/tiny-sharded", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["tensors"] == 150


def test_remote_inspect_of_a_broken_copy_exits_1_naming_the_rule(hub, tmp_path):
    result = inspect(hub, tmp_path, "org/tiny-broken")
    assert result.returncode == 1, result.stderr
    assert "ERROR [quant.settings]" in result.stdout


def test_a_revision_resolves_to_its_commit(hub, tmp_path):
    commit = hub.repos["org/tiny"][0]
    result = inspect(hub, tmp_path, f"org/tiny@{commit}", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["remote"]["revision"] == commit


@pytest.mark.parametrize(
    ("spec", "named"),
    [("org/missing", "org/missing: no such repo"), ("org/tiny@v9", "org/tiny@v9: no such revision")],
)
def test_a_missing_repo_or_revision_exits_2_naming_it(hub, tmp_path, spec, named):
    result = inspect(hub, tmp_path, spec)
    assert result.returncode == 2
    assert result.stderr.startswith(f"qcompat: error: {named}") and "Traceback" not in result.stderr, result.stderr


def test_an_unreachable_hub_exits_2_saying_so(tmp_path):
    class Gone:
        url = "http://127.0.0.1:9"  # discard: nothing listens

    result = inspect(Gone(), tmp_path, "org/tiny")
    assert result.returncode == 2
    assert "network error reaching the Hub" in result.stderr and "Traceback" not in result.stderr, result.stderr


def test_numerics_are_refused_remotely_since_they_read_the_weights(hub, tmp_path):
    result = inspect(hub, tmp_path, "org/tiny", "--numerics")
    assert result.returncode == 2
    assert "--remote never downloads" in result.stderr


def _suite(hub: FakeHub, home: Path, results: Path, spec: str) -> subprocess.CompletedProcess:
    env = hub_env(hub, home)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "tests",
            "-m",
            "static",
            "-q",
            "-p",
            "no:cacheprovider",
            "--checkpoint",
            spec,
            "--results",
            str(results),
            "--session-name",
            "static",
        ],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_static_suite_fetches_a_hub_checkpoint_and_records_its_commit(hub, tmp_path):
    results = tmp_path / "static.json"
    run = _suite(hub, tmp_path / "home", results, "org/tiny@main")
    assert run.returncode == 0, run.stdout[-2000:]
    recorded = json.loads(results.read_text())["checkpoint"]
    assert recorded["hub"] == {"repo": "org/tiny", "revision": "main", "commit": hub.repos["org/tiny"][0]}
    assert (
        hub.sent_for("org/tiny", "model.safetensors") == (REPO / "fixtures/tiny/int4/model.safetensors").stat().st_size
    )
    assert (
        f"org/tiny@main (commit {hub.repos['org/tiny'][0][:12]})"
        in subprocess.run(
            [sys.executable, "-m", "qcompat.cli", "report", str(tmp_path)], capture_output=True, text=True, check=False
        ).stdout
    )


def test_the_static_suite_on_a_missing_revision_fails_naming_it(hub, tmp_path):
    run = _suite(hub, tmp_path / "home", tmp_path / "static.json", "org/tiny@v9")
    assert run.returncode == 1
    assert "checkpoint unusable: org/tiny@v9: no such directory; as a Hub repo: no such revision" in run.stdout


def test_fetch_downloads_a_hub_checkpoint_and_prints_its_snapshot_and_commit(hub, tmp_path):
    env = hub_env(hub, tmp_path)
    run = subprocess.run(
        [sys.executable, "-m", "qcompat.cli", "fetch", "org/tiny-sharded"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    commit = hub.repos["org/tiny-sharded"][0]
    snapshot = Path(run.stdout.split()[0])
    assert snapshot.name == commit and run.stdout.strip().endswith(f"(commit {commit})")
    assert sorted(p.name for p in snapshot.iterdir()) == sorted(
        p.name for p in hub.repos["org/tiny-sharded"][1].iterdir()
    )
