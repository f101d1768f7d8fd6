"""Checkpoints named on the Hub: ORG/NAME[@REVISION], fetched with huggingface_hub, its errors as ours.

huggingface_hub does the talking, so HF_ENDPOINT, HF_TOKEN, HF_HOME, offline mode and its progress bars
behave as users know them. Nothing here is imported on a local directory's path.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

from qcompat.errors import CheckpointError

REPO_SPEC = re.compile(r"^[\w.-]+/[\w.-]+(@[\w./-]+)?$")
COMMIT = re.compile(r"^[0-9a-f]{40}$")


def is_repo_spec(text: str) -> bool:
    return bool(REPO_SPEC.match(text)) and not text.startswith((".", "/"))


def split_spec(spec: str) -> tuple[str, str | None]:
    """'ORG/NAME@REVISION' -> ('ORG/NAME', 'REVISION'); without '@', the revision is None (main)."""
    if not is_repo_spec(spec):
        raise CheckpointError(spec, "not a Hub repo id (ORG/NAME[@REVISION])")
    repo, _, revision = spec.partition("@")
    return repo, revision or None


def download(spec: str) -> Path:
    """The snapshot folder of ORG/NAME[@REVISION] in the Hugging Face cache, fetching what it lacks."""
    from huggingface_hub import snapshot_download

    repo, revision = split_spec(spec)
    with hub_errors(spec):
        return Path(snapshot_download(repo, revision=revision))


def source(spec: str, snapshot: Path) -> dict[str, str]:
    """What a results file records of a Hub checkpoint: the repo, the revision asked for, the commit resolved."""
    repo, revision = split_spec(spec)
    commit = snapshot.name if COMMIT.match(snapshot.name) else ""
    return {"repo": repo, "revision": revision or "main", "commit": commit}


@contextlib.contextmanager
def hub_errors(spec: str) -> Iterator[None]:
    """The Hub client's errors as one line naming what is missing or what failed (exit 2), never a traceback."""
    from huggingface_hub import errors

    try:
        yield
    except errors.RepositoryNotFoundError as exc:
        raise CheckpointError(
            spec, f"no such repo on the Hub, or private or gated: set HF_TOKEN ({_first(exc)})"
        ) from None
    except errors.RevisionNotFoundError as exc:
        raise CheckpointError(spec, f"no such revision in the repo ({_first(exc)})") from None
    except errors.LocalEntryNotFoundError as exc:
        raise CheckpointError(spec, f"not in the local cache and the Hub cannot be asked ({_first(exc)})") from None
    except errors.EntryNotFoundError as exc:
        raise CheckpointError(spec, f"a file the repo lists cannot be fetched ({_first(exc)})") from None
    except errors.OfflineModeIsEnabled:
        raise CheckpointError(spec, "HF_HUB_OFFLINE is set and the Hub must be asked") from None
    except errors.HfHubHTTPError as exc:
        raise CheckpointError(spec, f"the Hub answered with an error ({_first(exc)})") from None
    except OSError as exc:
        raise CheckpointError(spec, f"network error reaching the Hub: {type(exc).__name__}: {exc}") from None
    except Exception as exc:
        if not type(exc).__module__.startswith(("httpx", "httpcore")):
            raise
        raise CheckpointError(spec, f"network error reaching the Hub: {type(exc).__name__}: {exc}") from None


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
