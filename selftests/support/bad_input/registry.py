"""Class 6: `qcompat provenance --replay FILE / --registry FILE`, `qcompat sweep-table` and `qcompat upstream
--replay / --record / --stacks` on damaged files. Always offline: provenance gets the shipped record to replay (it
would download wheels otherwise), upstream replays the shipped index record. A file these commands cannot use is
2, naming it; --write to a place that cannot be written is 2, naming that place."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from qcompat.fixtures import fixtures_dir
from selftests.support.bad_input import ODD, UNUSABLE, Case, Run, Workspace

REGISTRY = fixtures_dir() / "known_issues.yaml"
RECORD = fixtures_dir() / "known_issues.provenance.yaml"
UPSTREAM = fixtures_dir() / "upstream.yaml"
STACKS = fixtures_dir().parent / "stacks" / "stacks.toml"


def _file(name: str, content: str | bytes | Callable[[], str | bytes]) -> Callable[[Workspace], Path]:
    def plant(ws: Workspace) -> Path:
        path = ws.path(name)
        made = content() if callable(content) else content
        path.write_bytes(made if isinstance(made, bytes) else made.encode())
        return path

    return plant


def _yaml_edit(source: Path, change: Callable[[Any], Any]) -> Callable[[], str]:
    def content() -> str:
        data = yaml.safe_load(source.read_text())
        changed = change(data)
        return yaml.safe_dump(data if changed is None else changed, sort_keys=False)

    return content


def _provenance(registry: Callable[[Workspace], Path] | None, replay: Callable[[Workspace], Path] | None):
    def build(ws: Workspace) -> Run:
        args, named = ["provenance"], []
        if registry is not None:
            path = registry(ws)
            args += ["--registry", str(path)]
            named.append(path.name)
        path = replay(ws) if replay is not None else RECORD
        args += ["--replay", str(path)]
        if replay is not None:
            named.append(path.name)
        return Run(args, named=tuple(named))

    return build


def _provenance_write(where: Callable[[Workspace], Path]):
    def build(ws: Workspace) -> Run:
        target = where(ws)
        return Run(["provenance", "--replay", str(RECORD), "--write", str(target)], named=(str(target), target.name))

    return build


def _set(key: str, value: Any) -> Callable[[dict], None]:
    return lambda data: data.update({key: value})


def _first_issue(change: Callable[[dict], None]) -> Callable[[dict], None]:
    return lambda data: change(data["issues"][0])


PROVENANCE: list[tuple[str, Callable[[Workspace], Run], tuple[int, ...]]] = [
    ("provenance-replay-a-list", _provenance(None, _file("record.yaml", "- 1\n- 2\n")), UNUSABLE),
    ("provenance-replay-empty", _provenance(None, _file("record.yaml", "")), UNUSABLE),
    ("provenance-replay-a-string", _provenance(None, _file("record.yaml", "just words\n")), UNUSABLE),
    ("provenance-replay-not-yaml", _provenance(None, _file("record.yaml", "a: [\n")), UNUSABLE),
    ("provenance-replay-not-utf8", _provenance(None, _file("record.yaml", b"a: \xff\n")), UNUSABLE),
    (
        "provenance-replay-releases-a-string",
        _provenance(None, _file("record.yaml", _yaml_edit(RECORD, _set("releases", "many")))),
        UNUSABLE,
    ),
    (
        "provenance-replay-entries-a-list",
        _provenance(None, _file("record.yaml", _yaml_edit(RECORD, _set("entries", [])))),
        UNUSABLE,
    ),
    ("provenance-replay-missing", _provenance(None, lambda ws: ws.root / "absent-record.yaml"), UNUSABLE),
    ("provenance-registry-a-list", _provenance(_file("registry.yaml", "- id: x\n"), None), UNUSABLE),
    ("provenance-registry-empty", _provenance(_file("registry.yaml", ""), None), UNUSABLE),
    ("provenance-registry-a-string", _provenance(_file("registry.yaml", "issues\n"), None), UNUSABLE),
    ("provenance-registry-issues-a-string", _provenance(_file("registry.yaml", "issues: none\n"), None), UNUSABLE),
    ("provenance-registry-issues-a-mapping", _provenance(_file("registry.yaml", "issues: {a: 1}\n"), None), UNUSABLE),
    ("provenance-registry-issue-a-string", _provenance(_file("registry.yaml", "issues: [x]\n"), None), UNUSABLE),
    (
        "provenance-registry-issue-without-id",
        _provenance(_file("registry.yaml", _yaml_edit(REGISTRY, _first_issue(lambda i: i.pop("id")))), None),
        UNUSABLE,
    ),
    (
        "provenance-registry-affected-a-list",
        _provenance(
            _file("registry.yaml", _yaml_edit(REGISTRY, _first_issue(lambda i: i.update(affected=["vllm<1"])))), None
        ),
        UNUSABLE,
    ),
    (
        "provenance-registry-bad-specifier",
        _provenance(
            _file("registry.yaml", _yaml_edit(REGISTRY, _first_issue(lambda i: i.update(affected={"vllm": "<<0.23"})))),
            None,
        ),
        UNUSABLE,
    ),
    ("provenance-registry-not-yaml", _provenance(_file("registry.yaml", "issues: [\n  - {id: x\n"), None), UNUSABLE),
    ("provenance-write-to-proc", _provenance_write(lambda ws: Path("/proc/x")), UNUSABLE),
    ("provenance-write-to-a-directory", _provenance_write(lambda ws: ws.path("out/x").parent), UNUSABLE),
]


CPU = {"vendor": "AuthenticAMD", "model": "AMD EPYC", "arch": "x86_64", "flags": ["avx2", "avx512f"]}
SERVES = "tests/vllm/test_sweep.py::test_release_serves_as_the_registry_expects[{}]"


def sweep_session(vllm: Any = "0.28.0", **changes: Any) -> dict[str, Any]:
    probe = {"packages": {"vllm": vllm, "transformers": "5.16.1", "torch": "2.13.0"}, "gpus": [], "cpu": CPU}
    checks = [{"check": SERVES.format(t), "outcome": "passed"} for t in ("int4", "bf16")]
    data = {
        "format": 1,
        "session": f"sweep-{vllm}",
        "checkpoint": {"path": "x", "identity": "abc"},
        "probe": probe,
        "started": 0,
        "seconds": 1,
        "checks": checks,
        "notes": [],
    }
    for key, value in changes.items():
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def _sweep(content: Callable[[], dict[str, Any] | str], write: Callable[[Workspace], Path] | None = None):
    def build(ws: Workspace) -> Run:
        folder = ws.path("sweep/sweep-0.26.0.json").parent
        (folder / "sweep-0.26.0.json").write_text(json.dumps(sweep_session("0.26.0")))
        made = content()
        (folder / "sweep-0.28.0.json").write_text(made if isinstance(made, str) else json.dumps(made))
        args, named = ["sweep-table", str(folder)], ("sweep-0.28.0.json",)
        if write is not None:
            target = write(ws)
            args += ["--write", str(target)]
            named = (str(target), target.name)
        return Run(args, named=named)

    return build


def _packages(**packages: Any) -> Callable[[], dict[str, Any]]:
    def content() -> dict[str, Any]:
        data = sweep_session()
        data["probe"]["packages"] = packages
        return data

    return content


SWEEP: list[tuple[str, Callable[[Workspace], Run], tuple[int, ...]]] = [
    ("sweep-without-probe", _sweep(lambda: sweep_session(probe=None)), UNUSABLE),
    ("sweep-probe-a-string", _sweep(lambda: sweep_session(probe="vllm 0.28.0")), UNUSABLE),
    ("sweep-vllm-version-abc", _sweep(lambda: sweep_session("abc")), UNUSABLE),
    ("sweep-vllm-version-a-number", _sweep(lambda: sweep_session(0.28)), UNUSABLE),
    ("sweep-vllm-version-null", _sweep(lambda: sweep_session(None)), UNUSABLE),
    ("sweep-without-vllm", _sweep(_packages(transformers="5.16.1")), UNUSABLE),
    ("sweep-packages-a-list", _sweep(lambda: sweep_session(probe={"packages": ["vllm"], "gpus": []})), UNUSABLE),
    ("sweep-check-without-check", _sweep(lambda: sweep_session(checks=[{"outcome": "passed"}])), UNUSABLE),
    (
        "sweep-known-failure-without-issue",
        _sweep(lambda: sweep_session(checks=[{"check": SERVES.format("int4"), "outcome": "known-failure"}])),
        UNUSABLE,
    ),
    ("sweep-top-level-list", _sweep(lambda: "[]"), UNUSABLE),
    ("sweep-same-release-twice", _sweep(lambda: sweep_session("0.26.0")), ODD),
    ("sweep-write-to-proc", _sweep(sweep_session, lambda ws: Path("/proc/x")), UNUSABLE),
    ("sweep-write-to-a-directory", _sweep(sweep_session, lambda ws: ws.path("out/x").parent), UNUSABLE),
]


def _upstream(replay=None, record=None, stacks=None) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        named = []
        paths = {}
        for flag, plant, default in (
            ("--replay", replay, UPSTREAM),
            ("--record", record, UPSTREAM),
            ("--stacks", stacks, STACKS),
        ):
            if plant is None:
                paths[flag] = default
            else:
                paths[flag] = plant(ws)
                named.append(paths[flag].name)
        args = ["upstream"] + [part for flag, path in paths.items() for part in (flag, str(path))]
        return Run(args, named=tuple(named))

    return build


UPSTREAM_CASES: list[tuple[str, Callable[[Workspace], Run], tuple[int, ...]]] = [
    ("upstream-replay-a-list", _upstream(replay=_file("index.yaml", "- 1\n")), UNUSABLE),
    ("upstream-replay-empty", _upstream(replay=_file("index.yaml", "")), UNUSABLE),
    ("upstream-replay-not-yaml", _upstream(replay=_file("index.yaml", "releases: {\n")), UNUSABLE),
    (
        "upstream-replay-releases-a-string",
        _upstream(replay=_file("index.yaml", _yaml_edit(UPSTREAM, _set("releases", "x")))),
        UNUSABLE,
    ),
    ("upstream-record-a-list", _upstream(record=_file("record.yaml", "- 1\n")), UNUSABLE),
    ("upstream-stacks-not-toml", _upstream(stacks=_file("stacks.toml", "[stable\nvllm = \n")), UNUSABLE),
    ("upstream-stacks-not-utf8", _upstream(stacks=_file("stacks.toml", b'[stable]\nvllm = "\xff"\n')), UNUSABLE),
    ("upstream-stacks-a-directory", _upstream(stacks=lambda ws: ws.path("stacks.toml/x").parent), UNUSABLE),
]


def cases() -> list[Case]:
    found = [Case(name, build, expect, "registry") for name, build, expect in PROVENANCE + SWEEP]
    found += [Case(name, build, expect, "registry", twin=True) for name, build, expect in UPSTREAM_CASES]
    return found
