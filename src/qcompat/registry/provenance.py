"""Where the registry's texts come from: each entry's claims about the vendor's released code, checked in the
wheels next to the entry's version boundaries, and the record of what was found.

A claim names a distribution, a file in its wheel and (usually) an exact string, and says whether the string is
`present` or `absent` inside the entry's affected range and, optionally, just outside it. The versions follow
from the entry: for its specifier on that package, the release on each side of every boundary, and the newest
release when it is still affected (a claim with `at` names its versions instead). A claim with `pinned_by`
({vllm: SPEC}) follows pins: for each vLLM release SPEC picks the same way, the version of the package that
release pins (its METADATA's `package==X`) is the one read, so a new release's new pin is read the day it is out;
a pin the index cannot serve is a finding, never a pass. A claim with `release` says whether the index lists
that release of the package at all. An entry's `fixed_in` must be
the first release after its affected range. The record (fixtures/known_issues.provenance.yaml) keeps, per
entry, a fingerprint of the entry it was made for, each finding with its wheel, line and excerpt, and the
release lists used, so the checks can be replayed offline.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from qcompat.env.probe import probe_name
from qcompat.errors import QcompatError
from qcompat.registry.wheels import Unreachable, exact_pin, requirement_of, requires_dist

STATES = ("present", "absent")
EXCERPT_CHARS = 240


class Source(Protocol):
    def releases(self, project: str) -> list[Version]: ...

    def read(self, project: str, version: Version, member: str) -> tuple[str, bytes | None]: ...


@dataclass(frozen=True)
class Claim:
    entry: str
    number: int  # 1-based, as `claim #n` in messages
    package: str
    file: str
    text: str | None  # None: the claim is about the file itself
    inside: str
    outside: str | None
    at: tuple[Version, ...]
    pinned_by: tuple[str, str] | None = None  # (the pinning project, its specifier)
    release: Version | None = None  # a claim about the index's list of releases, not a file

    def describe(self) -> str:
        if self.release is not None:
            return f"{self.entry} claim #{self.number} ({self.package} {self.release} on the index)"
        what = f"{self.text!r} in {self.file}" if self.text is not None else f"file {self.file}"
        via = f", the version {self.pinned_by[0]} pins" if self.pinned_by else ""
        return f"{self.entry} claim #{self.number} ({self.package}{via}: {what})"


@dataclass(frozen=True)
class Check:
    claim: Claim
    version: Version  # of the claim's package; for a pin-following claim, of the pinning release
    role: str  # "inside" or "outside" the affected range, "at" a version the claim names, "pinned" by a release

    @property
    def expected(self) -> str:
        return self.claim.outside if self.role == "outside" else self.claim.inside


@dataclass(frozen=True)
class Pin:
    """What a pinning release's METADATA says of the claim's package."""

    version: Version | None  # None: no exact pin
    wheel: str | None
    excerpt: str | None


@dataclass(frozen=True)
class ClaimFinding:
    check: Check
    wheel: str | None
    found: str  # present | absent | no such file | unresolvable: ... | error text
    line: int | None = None
    excerpt: str | None = None
    pin: Pin | None = None  # pin-following claims: the pin read, whose version was checked

    @property
    def ok(self) -> bool:
        return self.found == self.check.expected

    @property
    def version(self) -> Version | None:
        """The version of the claim's package that was read (or, for an unresolvable pin, would have been)."""
        return (self.pin.version if self.pin else None) if self.check.role == "pinned" else self.check.version


def entries(raw: dict[str, Any]) -> list[dict[str, Any]]:
    return list(raw.get("issues", [])) + list(raw.get("behaviours", []))


def fingerprint(entry: dict[str, Any]) -> str:
    """Of everything the entry says (its claims included), so a record made for another version shows."""
    return hashlib.sha256(json.dumps(entry, sort_keys=True, default=str).encode()).hexdigest()[:16]


def claims(entry: dict[str, Any]) -> list[Claim]:
    found = []
    for number, raw in enumerate(entry.get("provenance") or [], 1):
        where = f"{entry['id']} claim #{number}"
        if raw.get("inside") not in STATES or raw.get("outside", "present") not in STATES:
            raise QcompatError(f"{where}: inside/outside must be one of {', '.join(STATES)}")
        pinned_by = raw.get("pinned_by")
        if pinned_by is not None and (not isinstance(pinned_by, dict) or len(pinned_by) != 1):
            raise QcompatError(f"{where}: pinned_by names one project and its specifier, e.g. {{vllm: '>=0.33'}}")
        free = "at" in raw or "release" in raw or pinned_by is not None
        if not free and probe_name(raw["package"]) not in entry.get("affected", {}):
            raise QcompatError(
                f"{where}: {raw['package']} is not in the entry's affected packages; name versions with at"
            )
        release = Version(str(raw["release"])) if "release" in raw else None
        found.append(
            Claim(
                entry["id"],
                number,
                raw["package"],
                raw.get("file", "(the index)"),
                raw.get("text"),
                raw["inside"],
                raw.get("outside"),
                tuple(Version(v) for v in raw.get("at", ())),
                next(iter(pinned_by.items())) if pinned_by else None,
                release,
            )
        )
    return found


def versions(spec: SpecifierSet, releases: list[Version]) -> list[tuple[Version, str]]:
    """(release, inside|outside) on each side of every boundary of `spec`, and the newest release if inside."""
    inside = [r in spec for r in releases]
    picked: dict[Version, str] = {}
    for i in range(1, len(releases)):
        if inside[i] != inside[i - 1]:
            for j in (i - 1, i):
                picked[releases[j]] = "inside" if inside[j] else "outside"
    if releases and inside[-1]:
        picked[releases[-1]] = "inside"
    return sorted(picked.items())


def checks_for(entry: dict[str, Any], source: Source) -> list[Check]:
    checks = []
    for claim in claims(entry):
        if claim.release is not None:
            checks.append(Check(claim, claim.release, "at"))
            continue
        if claim.pinned_by:
            pinning, spec = claim.pinned_by
            released = source.releases(pinning)
            inside = [v for v, role in versions(SpecifierSet(spec), released) if role == "inside"]
            if not inside:
                raise QcompatError(f"{claim.describe()}: no release of {pinning} is inside {spec}")
            # and the release before the newest: while the newest release's pin cannot be read, the newest one
            # users can install is still checked
            newest_two = [v for v in released if v in SpecifierSet(spec)][-2:]
            checks += [Check(claim, v, "pinned") for v in sorted(set(inside) | set(newest_two))]
            continue
        if claim.at:
            checks += [Check(claim, v, "at") for v in claim.at]
            continue
        spec = SpecifierSet(entry["affected"][probe_name(claim.package)])
        picked = versions(spec, source.releases(claim.package))
        if not any(role == "inside" for _, role in picked):
            raise QcompatError(f"{claim.describe()}: no release of {claim.package} is inside {spec}")
        checks += [Check(claim, v, role) for v, role in picked if role == "inside" or claim.outside is not None]
    return checks


def fixed_in_problems(entry: dict[str, Any], source: Source) -> list[str]:
    """fixed_in must be a vLLM (or the component's) release outside the range, right after one inside it."""
    fixed_in = (entry.get("links") or {}).get("fixed_in")
    if not fixed_in:
        return []
    package = "vllm" if "vllm" in entry.get("affected", {}) else next(iter(entry.get("affected", {})), None)
    if package is None:
        return [f"{entry['id']}: fixed_in {fixed_in} but no affected package to check it against"]
    spec, releases, fixed = SpecifierSet(entry["affected"][package]), source.releases(package), Version(fixed_in)
    if fixed not in releases:
        return [f"{entry['id']}: fixed_in {fixed_in} is not a {package} release"]
    before = [r for r in releases if r < fixed]
    if fixed in spec or not before or before[-1] not in spec:
        first = next((r for i, r in enumerate(releases) if r not in spec and i and releases[i - 1] in spec), None)
        after = f"the first {package} release after the affected range {spec} is {first or 'none'}"
        return [f"{entry['id']}: fixed_in {fixed_in}, but {after}"]
    return []


def locate(content: bytes, text: str) -> tuple[int | None, str] | None:
    """Where `text` is: (line number, the line) in a text file; (None, the NUL-delimited string) in a binary."""
    needle = text.encode()
    at = content.find(needle)
    if at < 0:
        return None
    if b"\0" not in content[:8192]:
        line = content.count(b"\n", 0, at) + 1
        start, end = content.rfind(b"\n", 0, at) + 1, content.find(b"\n", at)
        excerpt = content[start : end if end >= 0 else len(content)]
        return line, excerpt.decode("utf-8", "replace").strip()[:EXCERPT_CHARS]
    start, end = content.rfind(b"\0", 0, at) + 1, content.find(b"\0", at)
    return None, content[start : end if end >= 0 else len(content)].decode("utf-8", "replace")[:EXCERPT_CHARS]


def metadata_member(project: str) -> str:
    return f"{project.replace('-', '_')}-*.dist-info/METADATA"


def read_pin(check: Check, source: Source) -> tuple[Pin, str | None]:
    """The pin the pinning release's METADATA holds on the claim's package, and why it cannot be read (None)."""
    pinning, package = check.claim.pinned_by[0], check.claim.package
    wheel, metadata = source.read(pinning, check.version, metadata_member(pinning))
    requires = requires_dist((metadata or b"").decode("utf-8", "replace"))
    pinned = exact_pin(requirement_of(requires, package))
    if pinned is None:
        return Pin(None, wheel, None), f"{pinning} {check.version} does not pin {package} exactly"
    version = Version(pinned)
    excerpt = f"Requires-Dist: {package}=={pinned}"  # what a record keeps of the METADATA, enough to replay it
    if version not in source.releases(package):
        problem = f"unresolvable: {pinning} {check.version} pins {package}=={version}, which the index does not have"
        return Pin(version, wheel, excerpt), problem
    return Pin(version, wheel, excerpt), None


def examine(check: Check, source: Source) -> ClaimFinding:
    claim = check.claim
    if claim.release is not None:
        listed = check.version in source.releases(claim.package)
        return ClaimFinding(check, None, "present" if listed else "absent")
    pin = None
    try:
        if claim.pinned_by:
            pin, problem = read_pin(check, source)
            if problem:
                return ClaimFinding(check, None, problem, pin=pin)
        version = pin.version if pin else check.version
        wheel, content = source.read(claim.package, version, claim.file)
    except Unreachable:
        raise
    except (QcompatError, InvalidVersion) as exc:  # no wheel for that release, or a record that never read this file
        return ClaimFinding(check, None, f"unreadable: {exc}", pin=pin)
    return dataclasses.replace(_found(check, wheel, content), pin=pin)


def _found(check: Check, wheel: str, content: bytes | None) -> ClaimFinding:
    claim = check.claim
    if content is None:
        return ClaimFinding(check, wheel, "absent" if claim.text is None else "no such file")
    if claim.text is None:
        return ClaimFinding(check, wheel, "present")
    where = locate(content, claim.text)
    if where is None:
        return ClaimFinding(check, wheel, "absent")
    return ClaimFinding(check, wheel, "present", *where)


@dataclass
class EntryReport:
    entry: dict[str, Any]
    findings: list[ClaimFinding]
    problems: list[str]  # fixed_in and planning problems
    known_pins: dict[str, str] = field(default_factory=dict)  # unresolvable finding -> the install entry explaining it

    def known(self) -> list[str]:
        """Unresolvable pins the registry already explains (an install entry whose claims hold that release absent):
        reported, never counted as holding, and not a failure until the index moves."""
        lines = self._lines()
        return [f"{line} (known: {self.known_pins[f.found]})" for f, line in lines if f.found in self.known_pins]

    def failures(self) -> list[str]:
        return list(self.problems) + [line for f, line in self._lines() if f.found not in self.known_pins]

    def _lines(self) -> list[tuple[ClaimFinding, str]]:
        lines = []
        for f in self.findings:
            if not f.ok:
                check = f.check
                where = {"inside": "inside the affected range", "outside": "outside it", "at": "as the claim names"}
                if check.role == "pinned":
                    pinning = check.claim.pinned_by[0]
                    read = f"{check.claim.package} {f.version}" if f.version else check.claim.package
                    what = f"{read}, as {pinning} {check.version} pins it"
                else:
                    what = f"{check.claim.package} {check.version} ({where[check.role]})"
                line = f"{check.claim.describe()}: expected {check.expected} in {what}, found {f.found}"
                lines.append((f, line + (f" [{f.wheel}]" if f.wheel else "")))
        return lines


def unpublished_pins(raw: dict[str, Any]) -> dict[tuple[str, Version], str]:
    """(package, version) -> the install entry whose claims say the index lacks that release."""
    return {
        (claim["package"], Version(str(claim["release"]))): entry["id"]
        for entry in raw.get("issues", [])
        if entry.get("phase") == "install"
        for claim in entry.get("provenance") or []
        if "release" in claim and claim.get("inside") == "absent"
    }


def check_registry(raw: dict[str, Any], source: Source, progress: Callable[[str], None] = lambda m: None):
    reports = []
    unpublished = unpublished_pins(raw)
    for entry in entries(raw):
        progress(f"{entry['id']}: checking its claims")
        try:
            checks = checks_for(entry, source)
            problems = fixed_in_problems(entry, source)
        except Unreachable:
            raise
        except QcompatError as exc:
            reports.append(EntryReport(entry, [], [str(exc)]))
            continue
        except (KeyError, TypeError, InvalidVersion, InvalidSpecifier) as exc:
            where = f"{entry.get('id', '?')}: its provenance or affected range is malformed"
            reports.append(EntryReport(entry, [], [f"{where} ({type(exc).__name__}: {exc})"]))
            continue
        if not checks:
            problems.append(f"{entry['id']}: no provenance claims (where does its text come from?)")
        findings = [examine(c, source) for c in checks]
        known = {
            f.found: unpublished[(f.check.claim.package, f.pin.version)]
            for f in findings
            if f.pin and f.found.startswith("unresolvable:") and (f.check.claim.package, f.pin.version) in unpublished
        }
        reports.append(EntryReport(entry, findings, problems, known))
    return reports
