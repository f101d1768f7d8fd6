"""The package index as the suite asks it: each project's final releases with their upload day, a release's
requirements (its wheel's METADATA), and whether a set of requirements resolves for the runner's platform.

`Live` asks PyPI (qcompat.wheels) and uv's resolver; `RecordedIndex` answers from a record of such answers, offline,
and says when it was not asked something; `Recording` wraps a live index and keeps every answer for the record.
"""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

from packaging.version import InvalidVersion, Version

from qcompat.errors import QcompatError
from qcompat.registry.wheels import requires_dist


@dataclass(frozen=True)
class Release:
    version: Version
    uploaded: str  # YYYY-MM-DD of its first file on the index


@dataclass(frozen=True)
class Resolution:
    """What the resolver said of a set of requirements: the versions it picked, or its own message."""

    requirements: tuple[str, ...]
    overrides: tuple[str, ...] = ()
    ok: bool = True
    versions: dict[str, str] = field(default_factory=dict)  # package -> version (ok only)
    message: str = ""  # the resolver's words (failed only)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data.update(requirements=list(self.requirements), overrides=list(self.overrides))
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Resolution:
        return cls(
            tuple(data["requirements"]),
            tuple(data.get("overrides") or ()),
            bool(data["ok"]),
            dict(data.get("versions") or {}),
            str(data.get("message") or ""),
        )


class Index(Protocol):
    def releases(self, project: str) -> list[Release]: ...

    def requires(self, project: str, version: Version) -> list[str]: ...

    def resolve(self, requirements: tuple[str, ...], overrides: tuple[str, ...] = ()) -> Resolution: ...


class Live:
    """PyPI for releases and METADATA (range requests, cached), uv for resolving."""

    def __init__(self, pypi, resolver):
        self.pypi, self.resolver = pypi, resolver

    def releases(self, project: str) -> list[Release]:
        uploads = self.pypi.uploads(project)
        return [Release(version, uploads[version]) for version in sorted(uploads)]

    def requires(self, project: str, version: Version) -> list[str]:
        return requires_dist(self.pypi.metadata(project, version))

    def resolve(self, requirements: tuple[str, ...], overrides: tuple[str, ...] = ()) -> Resolution:
        return self.resolver(requirements, overrides)


class Recording:
    """A live index whose every answer is kept, to be written as the record the selftests replay."""

    def __init__(self, index: Index):
        self.index = index
        self.answers: dict[str, Any] = {"releases": {}, "requires": {}, "resolutions": []}

    def releases(self, project: str) -> list[Release]:
        found = self.index.releases(project)
        self.answers["releases"][project] = [[str(r.version), r.uploaded] for r in found]
        return found

    def requires(self, project: str, version: Version) -> list[str]:
        found = self.index.requires(project, version)
        self.answers["requires"][f"{project} {version}"] = found
        return found

    def resolve(self, requirements: tuple[str, ...], overrides: tuple[str, ...] = ()) -> Resolution:
        found = self.index.resolve(requirements, overrides)
        if all(r.to_dict() != found.to_dict() for r in map(Resolution.from_dict, self.answers["resolutions"])):
            self.answers["resolutions"].append(found.to_dict())
        return found

    def record(self, read_on: datetime.date, report: dict[str, Any]) -> dict[str, Any]:
        return {"made_by": "qcompat upstream --write", "read_on": read_on.isoformat(), **self.answers, "report": report}


class RecordedIndex:
    """The index as a record saw it: offline, and only what the record asked."""

    def __init__(self, data: dict[str, Any], where: str = "the record"):
        if not isinstance(data, dict):
            raise QcompatError(f"{where}: not an upstream record (a mapping with releases, requires, resolutions)")
        self.where = where
        self.read_on = str(data.get("read_on", "?"))
        try:
            self._releases = {
                project: [Release(Version(v), str(day)) for v, day in found]
                for project, found in (data.get("releases") or {}).items()
            }
            self._requires = {key: list(found) for key, found in (data.get("requires") or {}).items()}
            self._resolutions = [Resolution.from_dict(r) for r in data.get("resolutions") or []]
        except (AttributeError, TypeError, ValueError, KeyError, InvalidVersion) as exc:
            raise QcompatError(f"{where}: malformed ({type(exc).__name__}: {exc})") from None
        self.report = data.get("report") or {}

    def releases(self, project: str) -> list[Release]:
        if project not in self._releases:
            raise QcompatError(f"{self.where} (read {self.read_on}) has no releases of {project}")
        return self._releases[project]

    def requires(self, project: str, version: Version) -> list[str]:
        key = f"{project} {version}"
        if key not in self._requires:
            raise QcompatError(f"{self.where} (read {self.read_on}) did not read the METADATA of {key}")
        return self._requires[key]

    def resolve(self, requirements: tuple[str, ...], overrides: tuple[str, ...] = ()) -> Resolution:
        for resolution in self._resolutions:
            if resolution.requirements == tuple(requirements) and resolution.overrides == tuple(overrides):
                return resolution
        raise QcompatError(f"{self.where} (read {self.read_on}) did not resolve {' '.join(requirements)}")
