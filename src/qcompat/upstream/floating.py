"""What a floating session (latest, nightly) asked the index for and got: for each package it names, the newest
final release, the version installed and tested, and the installer's own words when the newest did not install.
Written next to the session's results (results/<session>.installed.json) and judged by the suite like any
outcome: an uninstallable newest release is an `install`-phase failure the registry explains or calls new.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

from qcompat.errors import QcompatError
from qcompat.upstream.resolver import reason


@dataclass(frozen=True)
class Installed:
    project: str
    newest: str | None  # the index's newest final release (None: the index was not asked, e.g. a nightly index)
    tested: str | None  # what the session installed (None: nothing installed)
    message: str = ""  # the installer's words when the newest did not install

    @property
    def got_newest(self) -> bool:
        """The newest release, or a pre-release build ahead of it (a nightly)."""
        if self.newest is None or self.tested is None:
            return self.tested is not None
        try:
            return Version(self.tested) >= Version(self.newest)
        except InvalidVersion:
            return False

    @property
    def why(self) -> str:
        if self.message:
            return reason(self.message)
        return "the installer gave an older release without an error" if self.tested else "nothing was installed"

    def line(self) -> str:
        if self.got_newest:
            newest = f" (the newest release is {self.newest})" if self.newest and self.newest != self.tested else ""
            return f"{self.project} {self.tested}{newest}"
        return (
            f"{self.project}: newest {self.newest} cannot be installed: {self.why}; tested {self.tested or 'nothing'}"
        )


def write(path: Path, session: str, installed: list[Installed]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"session": session, "installed": [asdict(i) for i in installed]}, indent=2) + "\n")


def read(path: Path) -> list[Installed]:
    try:
        data = json.loads(path.read_text())
        return [Installed(**entry) for entry in data["installed"]]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise QcompatError(f"{path}: not a floating session's install record ({type(exc).__name__}: {exc})") from None


def header(installed: list[dict[str, Any]]) -> str:
    """The matrix column's line: newest vs tested, and why they differ."""
    return "; ".join(Installed(**entry).line() for entry in installed)
