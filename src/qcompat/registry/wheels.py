"""Released wheels on PyPI: which final releases a project has, and one file read out of a release's wheel.

Wheels are downloaded without dependencies into a cache (checked against the index's sha256) and read with
zipfile; nothing is installed or imported. A release's METADATA alone is read by HTTP range requests (the
central directory and one member, not the whole wheel) and cached. Needs only the standard library and packaging.
"""

from __future__ import annotations

import fnmatch
import functools
import hashlib
import io
import json
import os
import sys
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from qcompat.errors import QcompatError

INDEX = "https://pypi.org/simple/{project}/"
ACCEPT = "application/vnd.pypi.simple.v1+json"  # PEP 691
# Which wheel of a release is read: an x86_64 Linux build (the CPU machines and the GPU runners), else a pure one.
PYTHONS = ("abi3", "cp311", "py3", "none")


class Unreachable(QcompatError):
    """The index or a wheel could not be fetched: the environment is unusable, not the registry wrong."""


def default_cache() -> Path:
    return Path(os.environ.get("QCOMPAT_WHEEL_CACHE") or Path.home() / ".cache" / "qcompat" / "wheels")


@dataclass(frozen=True)
class Wheel:
    project: str
    version: Version
    filename: str
    url: str
    sha256: str


def _rank(filename: str) -> int | None:
    """0 for an x86_64 manylinux wheel, 1 for a pure one, None for a wheel this module does not read."""
    ranks = [
        0 if tag.platform.startswith("manylinux") and tag.platform.endswith("_x86_64") else 1
        for tag in parse_wheel_filename(filename)[3]
        if (tag.abi in PYTHONS or tag.interpreter in PYTHONS)
        and (tag.platform == "any" or tag.platform.endswith("_x86_64") and tag.platform.startswith("manylinux"))
    ]
    return min(ranks, default=None)


class PyPI:
    """The index, read once per project; wheels fetched into `cache` on first use."""

    def __init__(self, cache: Path | None = None, progress=None):
        self.cache = cache or default_cache()
        self._files: dict[str, list[dict]] = {}
        self._progress = progress or (lambda message: print(message, file=sys.stderr))

    def _index(self, project: str) -> list[dict]:
        if project not in self._files:
            request = urllib.request.Request(INDEX.format(project=project), headers={"Accept": ACCEPT})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    self._files[project] = json.load(response)["files"]
            except (OSError, ValueError, KeyError) as exc:
                raise Unreachable(f"cannot read the PyPI index of {project}: {exc}") from None
        return self._files[project]

    @functools.cache  # noqa: B019  (one PyPI per run: the cache lives as long as it)
    def _wheels(self, project: str) -> dict[Version, Wheel]:
        found: dict[Version, tuple[int, Wheel]] = {}
        for entry in self._index(project):
            name = entry["filename"]
            if not name.endswith(".whl") or entry.get("yanked"):
                continue
            try:
                version, rank = parse_wheel_filename(name)[1], _rank(name)
            except (ValueError, InvalidVersion):
                continue
            if rank is not None and (version not in found or rank < found[version][0]):
                found[version] = (rank, Wheel(project, version, name, entry["url"], entry["hashes"]["sha256"]))
        return {version: wheel for version, (_, wheel) in found.items()}

    def uploads(self, project: str) -> dict[Version, str]:
        """Each final release's first upload day (YYYY-MM-DD), yanked files left out."""
        days: dict[Version, str] = {}
        for entry in self._index(project):
            version = _version_of(entry["filename"])
            if version is None or entry.get("yanked") or version.is_prerelease:
                continue
            day = str(entry.get("upload-time") or "")[:10]
            days[version] = min(days.get(version) or day, day)
        return days

    def releases(self, project: str) -> list[Version]:
        """Every final release (no pre- or dev release) with a file on the index, yanked ones left out, oldest
        first: the boundaries are between releases, whether or not this module can read their wheels."""
        versions = {_version_of(entry["filename"]) for entry in self._index(project) if not entry.get("yanked")}
        return sorted(v for v in versions if v is not None and not v.is_prerelease)

    def wheel(self, project: str, version: Version) -> Wheel:
        wheels = self._wheels(project)
        if version not in wheels:
            raise QcompatError(f"{project} {version}: no x86_64 manylinux or pure-Python wheel on PyPI")
        return wheels[version]

    def path(self, wheel: Wheel) -> Path:
        target = self.cache / wheel.filename
        if target.is_file():
            return target
        self.cache.mkdir(parents=True, exist_ok=True)
        self._progress(f"downloading {wheel.filename}")
        partial = target.with_suffix(".part")
        digest = hashlib.sha256()
        try:
            with urllib.request.urlopen(wheel.url, timeout=300) as response, partial.open("wb") as out:
                while chunk := response.read(1 << 20):
                    digest.update(chunk)
                    out.write(chunk)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise Unreachable(f"cannot download {wheel.filename}: {exc}") from None
        if digest.hexdigest() != wheel.sha256:
            partial.unlink(missing_ok=True)
            raise Unreachable(f"{wheel.filename}: sha256 {digest.hexdigest()} is not the index's {wheel.sha256}")
        partial.rename(target)
        return target

    def metadata(self, project: str, version: Version) -> str:
        """The release's METADATA (its Requires-Dist lines), read by range requests from its wheel; cached."""
        wheel = self.wheel(project, version)
        cached = self.cache / "metadata" / f"{wheel.filename}.METADATA"
        if cached.is_file():
            return cached.read_text(encoding="utf-8")
        downloaded = self.cache / wheel.filename
        try:
            text = _member(downloaded if downloaded.is_file() else _Ranged(wheel.url), METADATA)
        except (OSError, KeyError, zipfile.BadZipFile) as exc:
            raise Unreachable(f"cannot read the METADATA of {wheel.filename}: {exc}") from None
        if not text:
            raise QcompatError(f"{wheel.filename} has no METADATA")
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_bytes(text)
        return text.decode("utf-8", "replace")

    def read(self, project: str, version: Version, member: str) -> tuple[str, bytes | None]:
        """(the wheel's filename, the member's bytes or None when the wheel has no such file); `member` may be a
        glob, for paths that carry the version (vllm-*.dist-info/METADATA)."""
        wheel = self.wheel(project, version)
        if fnmatch.fnmatchcase(member, METADATA) and not (self.cache / wheel.filename).is_file():
            return wheel.filename, self.metadata(project, version).encode()  # a few range requests, not the wheel
        return wheel.filename, _member(self.path(wheel), member)


METADATA = "*.dist-info/METADATA"


def _member(wheel, pattern: str) -> bytes | None:
    """The first member of a wheel (a path or a seekable file) whose name matches the glob; None without one."""
    with zipfile.ZipFile(wheel) as archive:
        names = [n for n in archive.namelist() if fnmatch.fnmatchcase(n, pattern)]
        return archive.read(names[0]) if names else None


def requires_dist(metadata: str) -> list[str]:
    """The Requires-Dist lines of a METADATA file, as written."""
    return [line.split(":", 1)[1].strip() for line in metadata.splitlines() if line.startswith("Requires-Dist:")]


def requirement_of(requires: list[str], package: str) -> Requirement | None:
    """The requirement on `package` that applies to a plain install (no extra, Linux, CPython 3.12)."""
    environment = {
        "extra": "",
        "sys_platform": "linux",
        "platform_system": "Linux",
        "platform_machine": "x86_64",
        "python_version": "3.12",
        "python_full_version": "3.12.0",
        "implementation_name": "cpython",
        "platform_python_implementation": "CPython",
        "os_name": "posix",
    }
    for line in requires:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(requirement.name) != canonicalize_name(package):
            continue
        if requirement.marker is None or requirement.marker.evaluate(environment):
            return requirement
    return None


def exact_pin(requirement: Requirement | None) -> str | None:
    """X of `name==X` (the only form a pin takes here), else None."""
    if requirement is None:
        return None
    specs = list(requirement.specifier)
    return specs[0].version if len(specs) == 1 and specs[0].operator == "==" else None


def _version_of(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (ValueError, InvalidVersion):
        return None


class _Ranged(io.RawIOBase):
    """A remote file read with HTTP range requests, seekable, so zipfile reads only what it needs."""

    def __init__(self, url: str, timeout: float = 60):
        self.url, self.timeout, self.position = url, timeout, 0
        request = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(request, timeout=timeout) as response:
            self.size = int(response.headers["Content-Length"])

    def seekable(self) -> bool:
        return True

    def readable(self) -> bool:
        return True

    def tell(self) -> int:
        return self.position

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        self.position = {io.SEEK_SET: 0, io.SEEK_CUR: self.position, io.SEEK_END: self.size}[whence] + offset
        return self.position

    def read(self, size: int = -1) -> bytes:
        end = self.size if size < 0 else min(self.size, self.position + size)
        if end <= self.position:
            return b""
        headers = {"Range": f"bytes={self.position}-{end - 1}"}
        with urllib.request.urlopen(
            urllib.request.Request(self.url, headers=headers), timeout=self.timeout
        ) as response:
            data = response.read()
        if response.status != 206:
            raise OSError(f"{self.url}: the server ignored the range request (HTTP {response.status})")
        self.position += len(data)
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
