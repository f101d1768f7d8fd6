"""The compatibility suite: options naming what is under test, shared fixtures, and the results file."""

from __future__ import annotations

from pathlib import Path

import pytest

from qcompat.errors import QcompatError
from qcompat.fixtures import fixtures_dir, tiny_bf16, tiny_int4
from qcompat.inspection.findings import Severity
from qcompat.suite.card import recipes
from qcompat.suite.recorder import ResultsRecorder
from qcompat.suite.serving import PYTEST_CONFIG, Serving, known_on, not_serving, progress, serve


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("qcompat")
    group.addoption(
        "--checkpoint",
        default=None,
        help="checkpoint directory or Hub repo ORG/NAME[@REVISION], fetched as needed (default: the tiny INT4)",
    )
    group.addoption("--base", default=None, help="the BF16 base it was quantized from (default: the tiny BF16)")
    group.addoption(
        "--profile", default=None, help="profile NAME or NAME:VARIANT (default: chosen by the config's sizes)"
    )
    group.addoption("--goldens", default=str(fixtures_dir() / "goldens"), help="where recorded greedy results live")
    group.addoption(
        "--record-golden", default=None, metavar="DIR", help="record greedy results into DIR instead of comparing"
    )
    group.addoption("--results", default=None, metavar="FILE", help="write this session's results as JSON")
    group.addoption(
        "--eval-limit",
        default=None,
        type=int,
        metavar="N",
        help="the task accuracy checks' items (default: all; GSM8K has 1319): the tiny's task is its own sentences",
    )
    group.addoption("--session-name", default="adhoc", help="the session name written into the results")
    group.addoption(
        "--installed",
        default=None,
        metavar="FILE",
        help="a floating session's install record: the newest releases next to those installed",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.pluginmanager.register(ResultsRecorder(config), "qcompat-results")
    PYTEST_CONFIG[:] = [config]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start servers of their own run before those sharing the session's kept server, which stays up
    from its first user to the end: on a GPU only one server fits (ServerSpec.exclusive refuses a second)."""
    items.sort(key=lambda item: "serving" in getattr(item, "fixturenames", ()))


def pytest_report_header(config: pytest.Config) -> list[str]:
    from qcompat.env.probe import probe

    stack = probe()
    return [f"qcompat stack: {stack.label()}", f"qcompat checkpoint: {config.getoption('--checkpoint') or tiny_int4()}"]


@pytest.fixture(scope="session")
def checkpoint_path(pytestconfig: pytest.Config) -> Path:
    from qcompat.checkpoint.local import resolve

    try:
        return resolve(pytestconfig.getoption("--checkpoint") or tiny_int4())
    except QcompatError as exc:
        pytest.fail(f"checkpoint unusable: {exc}", pytrace=False)


@pytest.fixture(scope="session")
def base_path(pytestconfig: pytest.Config) -> Path:
    return Path(pytestconfig.getoption("--base") or tiny_bf16())


@pytest.fixture(scope="session")
def is_tiny(checkpoint_path: Path) -> bool:
    """The tiny family (its sizes), wherever it lies: damaged copies are held to its memorized sentences too."""
    from qcompat.checkpoint.local import read_checkpoint
    from qcompat.inspection.run import profile_for

    return profile_for(read_checkpoint(checkpoint_path), None).variant == "tiny"


@pytest.fixture(scope="session")
def inspection(pytestconfig: pytest.Config, checkpoint_path: Path, notes):
    from qcompat.inspection.run import inspect_checkpoint
    from qcompat.registry.load import known_issues_lacking

    try:
        result = inspect_checkpoint(
            checkpoint_path, pytestconfig.getoption("--profile"), known_issues=known_issues_lacking
        )
    except QcompatError as exc:
        pytest.fail(f"checkpoint unusable: {exc}", pytrace=False)
    for finding in result.findings:
        if finding.severity is Severity.WARNING:
            notes.append(finding.line())
    return result


@pytest.fixture(scope="session")
def notes(pytestconfig: pytest.Config) -> list[str]:
    """Facts worth reading next to the verdicts (warnings, known differences); shown and stored in the results."""
    return pytestconfig.pluginmanager.get_plugin("qcompat-results").notes


@pytest.fixture(scope="session")
def quality_runs(pytestconfig: pytest.Config) -> list[dict]:
    """Each engine's quality figures against the base (QualityRun.to_dict), stored in the results' `quality`."""
    return pytestconfig.pluginmanager.get_plugin("qcompat-results").quality


@pytest.fixture(scope="session")
def made_corpus(is_tiny: bool, checkpoint_path: Path):
    """The tiny family's own sentences; any other checkpoint: fixtures/quality/corpus.yaml through its template.
    Where it cannot be made, why (a str): the servers still start, and only the quality checks fail."""
    from qcompat.quality.corpus import corpus_for

    try:
        return corpus_for(checkpoint_path, is_tiny)
    except Exception as exc:  # noqa: BLE001  (a template that does not render fails the quality checks alone)
        return f"the quality corpus could not be made for {checkpoint_path.name}: {type(exc).__name__}: {exc}"


@pytest.fixture(scope="session")
def made_task(pytestconfig, is_tiny: bool, made_corpus, tmp_path_factory):
    """The task accuracy is measured on: the tiny's memorized sentences as a local lm-eval task, else GSM8K (as
    vLLM's configs run it, 5-shot strict match); None where this stack has no lm-eval or there is no corpus."""
    import dataclasses
    import importlib.util

    if importlib.util.find_spec("lm_eval") is None or isinstance(made_corpus, str):
        return None
    from qcompat.quality.tasks import GSM8K, memorized_task

    task = memorized_task(made_corpus, tmp_path_factory.mktemp("tasks")) if is_tiny else GSM8K
    return dataclasses.replace(task, limit=pytestconfig.getoption("--eval-limit"))


@pytest.fixture(scope="session")
def eval_task(made_task, quality_corpus):
    """The task for the checks that measure accuracy: they skip where the stack has no lm-eval."""
    if made_task is None:
        pytest.skip("not run: lm-eval is not installed in this stack (the transformers and stable stacks have it)")
    return made_task


@pytest.fixture(scope="session")
def hold_quality(inspection, checkpoint_path: Path, base_path: Path, quality_corpus, quality_runs, notes):
    """Call with (run, approximation, figures): recorded, noted, then held to the profile's quality limits. Skips,
    saying why, when the base is not this checkpoint's (the real checkpoint run without --base)."""
    from qcompat.checkpoint.local import identity, read_checkpoint, weights_digest
    from qcompat.quality.limits import limits_for
    from qcompat.suite.quality import QualityHolder, base_mismatch

    mismatch = base_mismatch(read_checkpoint(checkpoint_path).config, read_checkpoint(base_path).config)
    if mismatch:
        pytest.skip(f"not run: the base {base_path} is not this checkpoint's ({mismatch}): give --base")
    profile = inspection.profile
    limits = limits_for(profile.data.get("quality"), profile.variant)
    weights, base = weights_digest(read_checkpoint(checkpoint_path)), identity(read_checkpoint(base_path))
    return QualityHolder(weights, base, quality_corpus, limits, profile.label, quality_runs, notes)


@pytest.fixture(scope="session")
def quality_corpus(made_corpus):
    """The quality corpus, for the checks that measure over it: they fail with the reason where it is missing."""
    if isinstance(made_corpus, str):
        pytest.fail(made_corpus, pytrace=False)
    return made_corpus


@pytest.fixture(scope="session")
def checkpoint_identity(checkpoint_path: Path) -> str:
    from qcompat.checkpoint.local import identity, read_checkpoint

    return identity(read_checkpoint(checkpoint_path))


@pytest.fixture(scope="session")
def memorized() -> list[tuple[str, str]]:
    """(prompt, the sentence the tiny model must complete it to): its first words, then greedy to eos."""
    from qcompat.quality.corpus import opening, tiny_corpus

    sentences = [text.strip() for text in tiny_corpus().texts]
    return [(opening(s)[0], s) for s in sentences]


@pytest.fixture(scope="session")
def prompts(memorized, is_tiny: bool, checkpoint_path: Path) -> list[str]:
    """The tiny family's memorized openings; any other checkpoint gets chat prompts through its own template."""
    if is_tiny:
        return [prompt for prompt, _ in memorized]
    from qcompat.suite.prompts import instruct_prompts

    return instruct_prompts(checkpoint_path)


@pytest.fixture(scope="session")
def base_is_tiny(base_path: Path) -> None:
    """The BF16 base is the tiny family's (the default), so its output must be the memorized sentences."""
    from qcompat.checkpoint.architecture import text_config_of
    from qcompat.checkpoint.local import read_checkpoint

    if text_config_of(read_checkpoint(base_path).config) != text_config_of(read_checkpoint(tiny_bf16()).config):
        pytest.skip("not applicable: memorized sentences exist only for the tiny checkpoint's family")


@pytest.fixture
def tiny_only(is_tiny: bool) -> None:
    if not is_tiny:
        pytest.skip("not applicable: memorized sentences exist only for the tiny checkpoint's family")


@pytest.fixture(scope="session")
def stack():
    from qcompat.env.probe import probe

    return probe()


@pytest.fixture(scope="session")
def log_dir(pytestconfig, tmp_path_factory) -> Path:
    results = pytestconfig.getoption("--results")
    return (Path(results).parent / Path(results).stem).resolve() if results else tmp_path_factory.mktemp("vllm")


@pytest.fixture(scope="session")
def vllm_installed(stack):
    if "vllm" not in stack.packages:
        pytest.skip(f"not run: vLLM is not installed in this stack ({stack.label()})")
    return stack


@pytest.fixture(scope="session")
def serving(checkpoint_path: Path, prompts, vllm_installed, log_dir: Path, made_corpus):
    stack = vllm_installed
    log = log_dir / "vllm-server.log"
    texts = () if isinstance(made_corpus, str) else made_corpus.texts
    served = serve(checkpoint_path, prompts, stack, log, keep=True, quality_texts=texts)
    yield served
    if served.server is not None:
        served.server.stop()
        progress("server stopped")


@pytest.fixture(scope="session")
def vllm_server(serving: Serving):
    if serving.server is None:
        pytest.skip(not_serving(serving))
    return serving.server


@pytest.fixture(scope="session")
def vllm_api(vllm_server):
    from qcompat.engines import vllm

    return vllm.client(vllm_server.url)


@pytest.fixture(scope="session")
def vllm_greedy(serving: Serving, vllm_server):
    return serving.greedy


@pytest.fixture(scope="session")
def served_model_name() -> str:
    return recipes()["serve"]["served_model_name"]


@pytest.fixture(scope="session")
def vllm_stack(stack) -> dict[str, str]:
    return {stack.distributions.get(p, p): v for p, v in stack.packages.items()}


@pytest.fixture
def record_verdict(record_property):
    """Put a registry verdict into the results, then pass or fail the test by it."""

    def record(serving: Serving) -> None:
        verdict = serving.verdict
        record_property("verdict", verdict.fields)
        if verdict.kind == "known-failure":
            record_property("known_on", known_on(verdict.issue))
        if verdict.kind in ("new-failure", "unexpected-pass"):
            tail = "\n".join(serving.log.splitlines()[-30:])
            pytest.fail(f"{verdict.message}\nlog: {serving.log_path}\n{tail}", pytrace=False)

    return record
