"""Property tests over the input surface: a valid config, results file, registry and Hub answer, each with one value
anywhere in it replaced by an arbitrary JSON value. Whatever the value, the CLI answers 0, 1 or 2, never a
traceback; under --json it prints JSON; an exit 2 is one line."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qcompat.cli import main
from qcompat.fixtures import fixtures_dir, tiny_int4
from qcompat.results import files
from selftests.support.fake_hub import FakeHub, commit_of

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=6,
)
EXAMPLES = int(os.environ.get("QCOMPAT_PROPERTY_EXAMPLES", "40"))  # a deeper run: QCOMPAT_PROPERTY_EXAMPLES=2000
SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def _paths(value: Any, prefix: tuple = ()) -> Iterator[tuple]:
    """Every place in a JSON value, the value itself first."""
    yield prefix
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _paths(item, (*prefix, index))


def _replaced(document: Any, path: tuple, new: Any) -> Any:
    if not path:
        return new
    changed = copy.deepcopy(document)
    holder = changed
    for step in path[:-1]:
        holder = holder[step]
    holder[path[-1]] = new
    return changed


def mutations(document: Any) -> st.SearchStrategy[Any]:
    places = list(_paths(document))
    return st.tuples(st.sampled_from(places), JSON_VALUES).map(lambda pair: _replaced(document, *pair))


def _holds_the_contract(code: int, out: str, err: str, as_json: bool) -> None:
    assert code in (0, 1, 2)
    assert "Traceback" not in out + err
    if as_json:
        answer = json.loads(out)
        if code == 2:
            assert answer["exit_code"] == 2 and answer["error"]
    if code == 2:
        assert len(err.strip().splitlines()) == 1 and err.startswith("qcompat: error: "), err


def _in_process(argv: list[str], capsys) -> int:
    code = main(argv)  # an exception escaping here is the traceback a user would see
    captured = capsys.readouterr()
    _holds_the_contract(code, captured.out, captured.err, "--json" in argv)
    return code


CONFIG = json.loads((tiny_int4() / "config.json").read_text())


def _checkpoint_with_config(folder: Path, config: Any) -> Path:
    folder.mkdir(parents=True)
    for path in tiny_int4().iterdir():
        if path.name != "config.json":
            (folder / path.name).symlink_to(path.resolve())
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_the_unmutated_documents_are_usable(tmp_path, capsys):
    """The properties below start from inputs the CLI accepts, so a mutation is what makes any exit 2."""
    assert _in_process(["inspect", str(_checkpoint_with_config(tmp_path / "c", CONFIG)), "--json"], capsys) == 0
    assert _in_process(["report", str(_results_dir(tmp_path / "r", RESULTS)), "--json"], capsys) == 0
    registry = tmp_path / "registry.yaml"
    registry.write_text(yaml.safe_dump(REGISTRY))
    assert _in_process(["provenance", "--registry", str(registry), "--replay", str(RECORD)], capsys) in (0, 1)


@SETTINGS
@given(config=mutations(CONFIG))
def test_any_config_json_gets_an_answer(config, tmp_path_factory, capsys):
    folder = _checkpoint_with_config(tmp_path_factory.mktemp("config") / "ckpt", config)
    _in_process(["inspect", str(folder), "--json"], capsys)


RESULTS = files.session_results(
    "stable",
    {"path": "fixtures/tiny/int4", "identity": "0" * 64},
    {
        "packages": {"vllm": "0.32.0", "transformers": "5.19.0"},
        "gpus": [],
        "cpu": {"vendor": "GenuineIntel", "model": "Xeon", "arch": "x86_64", "flags": ["avx2", "avx512f"]},
    },
    1795800000.0,
    [
        {"check": "vllm/test_serve[int4]", "outcome": "passed", "seconds": 3.5},
        {"check": "vllm/test_serve[bf16]", "outcome": "known-failure", "issue": "x", "known_on": "this CPU"},
        {"check": "vllm/test_gpu", "outcome": "skipped", "reason": "not run: needs CUDA"},
    ],
    notes=["a note"],
    quality=[
        {
            "run": "vllm-int4",
            "weights_digest": "1" * 64,
            "base_identity": "2" * 64,
            "corpus": "sentences.txt",
            "corpus_digest": "3" * 64,
            "approximation": "full logits (exact)",
            "figures": {
                "tokens": 86,
                "ppl": 1.23,
                "base_ppl": 1.22,
                "ppl_ratio": 1.0004,
                "kld_mean": 7.8e-5,
                "kld_p99": 7.2e-4,
                "top1_agreement": 0.9,
            },
            "limits": {
                "bounds": {"kld_mean": 2e-4, "top1_agreement": 0.85},
                "tolerance": {
                    "kld_mean": 0.1,
                    "kld_p99": 0.25,
                    "ppl_ratio": 0.005,
                    "top1_agreement": 0.02,
                    "recovery": 0.03,
                },
                "source": "the tiny's own figures",
            },
        }
    ],
)


def _results_dir(folder: Path, data: Any) -> Path:
    folder.mkdir(parents=True)
    (folder / "stable.json").write_text(json.dumps(data))
    return folder


@SETTINGS
@given(data=mutations(RESULTS))
def test_any_results_file_gets_an_answer_from_report_and_gate(data, tmp_path_factory, capsys):
    folder = _results_dir(tmp_path_factory.mktemp("results") / "results", data)
    _in_process(["report", str(folder), "--json"], capsys)
    _in_process(["gate", str(folder), "--baseline", str(folder)], capsys)


REGISTRY = yaml.safe_load((fixtures_dir() / "known_issues.yaml").read_text())
RECORD = fixtures_dir() / "known_issues.provenance.yaml"


@settings(SETTINGS, max_examples=max(EXAMPLES * 5 // 8, 1))
@given(registry=mutations(REGISTRY))
def test_any_registry_gets_an_answer_from_provenance(registry, tmp_path_factory, capsys):
    path = tmp_path_factory.mktemp("registry") / "known_issues.yaml"
    path.write_text(yaml.safe_dump(registry))
    code = main(["provenance", "--registry", str(path), "--replay", str(RECORD)])
    captured = capsys.readouterr()
    assert code in (0, 1, 2) and "Traceback" not in captured.err
    if code == 2:  # refused before any check ran, so nothing else was printed
        assert len(captured.err.strip().splitlines()) == 1, captured.err


class AnsweringHub(FakeHub):
    """The fake Hub, whose model info for the repo is whatever `answer` holds (set per example)."""

    def __init__(self, repos: dict[str, Path]):
        super().__init__(repos)
        self.answer: Any = None

    def _handler(self):
        base, hub = super()._handler(), self

        class Handler(base):
            def _info(self, repo: str, rev: str | None) -> None:
                self._json(hub.answer)

        return Handler


TINY_INFO = {
    "id": "org/tiny",
    "modelId": "org/tiny",
    "sha": commit_of(tiny_int4()),
    "private": False,
    "siblings": [{"rfilename": p.name, "size": p.stat().st_size} for p in sorted(tiny_int4().iterdir())],
}


@pytest.fixture(scope="module")
def answering_hub():
    with AnsweringHub({"org/tiny": tiny_int4()}) as hub:
        yield hub


@settings(SETTINGS, max_examples=max(EXAMPLES * 3 // 8, 1))
@given(answer=mutations(TINY_INFO))
def test_any_model_info_the_hub_answers_gets_an_answer(answer, answering_hub, tmp_path_factory):
    answering_hub.answer = answer
    env = {
        **os.environ,
        "HF_ENDPOINT": answering_hub.url,
        "HF_HOME": str(tmp_path_factory.mktemp("hf-home")),
        "HF_HUB_DISABLE_TELEMETRY": "1",
        "HF_HUB_ETAG_TIMEOUT": "5",
        "HF_HUB_DOWNLOAD_TIMEOUT": "5",
    }
    env.pop("HF_HUB_OFFLINE", None)
    run = subprocess.run(
        [sys.executable, "-m", "qcompat.cli", "inspect", "org/tiny", "--remote", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    _holds_the_contract(run.returncode, run.stdout, run.stderr, as_json=True)
