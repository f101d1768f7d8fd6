"""The provenance record (fixtures/known_issues.provenance.yaml): what `nox -s provenance` found in the wheels,
written per entry with a fingerprint of the entry; read back as a Source that replays the excerpts offline; and
which entries a record no longer covers."""

from __future__ import annotations

from typing import Any

from packaging.version import InvalidVersion, Version

from qcompat.errors import QcompatError
from qcompat.registry.provenance import ClaimFinding, EntryReport, Source, entries, fingerprint, metadata_member


def record(reports: list[EntryReport], source: Source, registry_path: str) -> dict[str, Any]:
    pinning = {f.check.claim.pinned_by[0] for r in reports for f in r.findings if f.check.claim.pinned_by}
    projects = sorted({f.check.claim.package for r in reports for f in r.findings} | {"vllm"} | pinning)
    return {
        "made_by": "nox -s provenance",
        "registry": registry_path,
        "releases": {p: [str(v) for v in source.releases(p)] for p in projects},
        "entries": {
            r.entry["id"]: {
                "fingerprint": fingerprint(r.entry),
                "failures": r.failures(),
                "known": r.known(),
                "findings": [_finding(f) for f in r.findings],
            }
            for r in reports
        },
    }


def _finding(f: ClaimFinding) -> dict[str, Any]:
    claim = f.check.claim
    found = {
        "claim": claim.number,
        "package": claim.package,
        "version": str(f.version) if f.version else None,
        "role": f.check.role,
    }
    found |= {"file": claim.file, "text": claim.text, "expected": f.check.expected, "found": f.found, "wheel": f.wheel}
    if claim.pinned_by:
        pinning = claim.pinned_by[0]
        found["pinned_by"] = {
            "package": pinning,
            "version": str(f.check.version),
            "file": metadata_member(pinning),
            "wheel": f.pin.wheel if f.pin else None,
            "excerpt": f.pin.excerpt if f.pin else None,
        }
    return found | ({"line": f.line} if f.line else {}) | ({"excerpt": f.excerpt} if f.excerpt else {})


class RecordedWheels:
    """A Source that answers from a record's excerpts: offline, and only for what the record read."""

    def __init__(self, data: dict[str, Any], where: str = "the record"):
        try:
            self._read(data)
        except (AttributeError, KeyError, TypeError, ValueError, InvalidVersion) as exc:
            raise QcompatError(
                f"{where}: not a provenance record as `nox -s provenance` writes ({type(exc).__name__}: {exc})"
            ) from None

    def _read(self, data: dict[str, Any]) -> None:
        self._releases = {p: sorted(Version(v) for v in vs) for p, vs in data.get("releases", {}).items()}
        self._files: dict[tuple[str, Version, str], tuple[str, list[str] | None]] = {}
        self._unreadable: dict[tuple[str, Version, str], str] = {}  # what the live run could not read stays unread
        for entry in data.get("entries", {}).values():
            for f in entry.get("findings", []):
                pin = f.get("pinned_by")
                if pin and pin.get("excerpt"):  # the pinning release's METADATA, as far as the pin goes
                    key = (pin["package"], Version(pin["version"]), pin["file"])
                    self._files.setdefault(key, (pin["wheel"], []))[1].append(pin["excerpt"])
                if f["version"] is None or f["file"] == "(the index)" or f["found"].startswith("unresolvable:"):
                    continue
                key = (f["package"], Version(f["version"]), f["file"])
                if f["found"].startswith("unreadable:"):
                    self._unreadable[key] = f["found"].removeprefix("unreadable: ")
                    continue
                wheel, excerpts = self._files.get(key, (f["wheel"], []))
                if f["found"] == "no such file" or (f["text"] is None and f["found"] == "absent"):
                    self._files[key] = (f["wheel"], None)
                elif excerpts is not None:
                    self._files[key] = (wheel, excerpts + ([f["excerpt"]] if f.get("excerpt") else []))

    def releases(self, project: str) -> list[Version]:
        if project not in self._releases:
            raise QcompatError(f"the record lists no releases of {project}: run `nox -s provenance`")
        return self._releases[project]

    def read(self, project: str, version: Version, member: str) -> tuple[str, bytes | None]:
        key = (project, version, member)
        if key in self._unreadable:
            raise QcompatError(f"the record could not read {member} in {project} {version}: {self._unreadable[key]}")
        if key not in self._files:
            raise QcompatError(f"the record did not read {member} in {project} {version}: run `nox -s provenance`")
        wheel, excerpts = self._files[key]
        return wheel, None if excerpts is None else "\n".join(excerpts).encode()


def stale(raw: dict[str, Any], data: dict[str, Any]) -> list[str]:
    """Entries without claims, or whose record is missing or was made for another version of the entry."""
    recorded = data.get("entries", {})
    reasons = []
    for entry in entries(raw):
        name = entry["id"]
        if not entry.get("provenance"):
            reasons.append(f"{name}: no provenance claims (where does its text come from?)")
        elif name not in recorded:
            reasons.append(f"{name}: not in the provenance record: run `nox -s provenance`")
        elif recorded[name]["fingerprint"] != fingerprint(entry):
            reasons.append(
                f"{name}: its provenance was recorded for another version of the entry "
                f"(fingerprint {recorded[name]['fingerprint']}, now {fingerprint(entry)}): run `nox -s provenance`"
            )
    return reasons
