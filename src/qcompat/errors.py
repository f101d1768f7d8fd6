"""The one error type the library raises for input it cannot use."""

from __future__ import annotations

from pathlib import Path


class QcompatError(Exception):
    """Unusable input or environment; the CLI turns it into one line and exit code 2."""


class CheckpointError(QcompatError):
    """A checkpoint file cannot be read; names the file and the cause."""

    def __init__(self, path: Path | str, cause: str):
        self.path = Path(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")
