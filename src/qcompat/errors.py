"""The error types the library raises for input it cannot use."""

from __future__ import annotations

from pathlib import Path


class QcompatError(Exception):
    """Unusable input or environment; the CLI turns it into one line and exit code 2."""


class InputError(QcompatError):
    """A file the user gave cannot be used; names the file (or URL) and the cause."""

    def __init__(self, path: Path | str, cause: str):
        self.path = path if isinstance(path, str) and "://" in path else Path(path)
        self.cause = cause
        super().__init__(f"{self.path}: {cause}")


class CheckpointError(InputError):
    """A checkpoint file cannot be read."""
