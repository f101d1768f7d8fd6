"""Whether a planned stack can exist: each planned release's own requirements (its wheel's METADATA) against the
other planned versions. METADATA comes from the committed upstream record, then the local cache, then the index
(unless QCOMPAT_INDEX_OFFLINE is set); a release none of them has is named as not checked.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from packaging.specifiers import SpecifierSet
from packaging.version import InvalidVersion, Version

from qcompat.env.probe import distribution
from qcompat.errors import QcompatError
from qcompat.fixtures import fixtures_dir
from qcompat.registry.expect import Plan
from qcompat.registry.wheels import requirement_of
from qcompat.upstream.index import RecordedIndex
from qcompat.upstream.resolver import CPU_BUILD_PIN

Lookup = Callable[[str, Version], list[str]]
RECORD = "upstream.yaml"


def committed_record() -> RecordedIndex | None:
    path = fixtures_dir() / RECORD
    if not path.is_file():
        return None
    from qcompat.registry.load import read_yaml

    return RecordedIndex(read_yaml(path), str(path.name))


def default_lookup() -> Lookup:
    record = committed_record()
    online = not os.environ.get("QCOMPAT_INDEX_OFFLINE")

    def lookup(project: str, version: Version) -> list[str]:
        if record is not None:
            try:
                return record.requires(project, version)
            except QcompatError:
                pass
        from qcompat.registry.wheels import PyPI, default_cache, requires_dist

        cached = sorted((default_cache() / "metadata").glob(f"{project.replace('-', '_')}-{version}-*.METADATA"))
        if cached:
            return requires_dist(Path(cached[0]).read_text(encoding="utf-8"))
        if not online:
            raise QcompatError(f"the METADATA of {project} {version} is not in the record or the cache (offline)")
        return requires_dist(PyPI(progress=lambda message: None).metadata(project, version))

    return lookup


def conflicts(planned: dict[str, str], device: str, lookup: Lookup) -> tuple[list[str], list[str]]:
    """(requirements the plan breaks, one line each; releases whose requirements could not be read)."""
    broken, unread = [], []
    for package, version in planned.items():
        project = distribution(package, device)
        try:
            requires = lookup(project, Version(version))
        except (QcompatError, InvalidVersion) as exc:
            unread.append(f"{project} {version} ({exc})")
            continue
        for other, other_version in planned.items():
            if other == package:
                continue
            requirement = requirement_of(requires, distribution(other, device))
            if requirement is None:
                continue
            pinned = CPU_BUILD_PIN.match(str(requirement))
            specifier = f"=={pinned.group(2)}" if pinned else str(requirement.specifier)
            if not SpecifierSet(specifier).contains(Version(other_version), prereleases=True):
                broken.append(
                    f"{project} {version} requires {requirement} (its METADATA); the plan has "
                    f"{distribution(other, device)} {other_version}"
                )
    return broken, unread


def impossible(planned: Plan, lookup: Lookup) -> tuple[list[str], list[str]]:
    """The planned releases' own requirements the plan breaks, and the releases whose requirements were not read;
    nothing for this machine's own stack (it exists)."""
    if planned.probed:
        return [], []
    return conflicts(planned.stack.packages, planned.stack.device, lookup)
