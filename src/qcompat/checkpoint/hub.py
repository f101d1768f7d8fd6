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


def model_info(repo: str, revision: str | None):
    """The repo's file list and commit, under the Hub client's timeout (HF_HUB_ETAG_TIMEOUT); an answer that is not
    the model info the API defines names the URL and what came back."""
    from huggingface_hub import HfApi, constants

    url = f"{constants.ENDPOINT}/api/models/{repo}" + (f"/revision/{revision}" if revision else "")
    try:
        info = HfApi().model_info(repo, revision=revision, files_metadata=True, timeout=constants.HF_HUB_ETAG_TIMEOUT)
    except ValueError as exc:  # JSONDecodeError: an HTML page, an empty body
        body = getattr(exc, "doc", "")
        raise CheckpointError(url, f"the Hub's answer is not JSON ({_shown(body)})") from None
    except (KeyError, TypeError, AttributeError) as exc:
        raise CheckpointError(
            url, f"the Hub's model info is not what its API defines ({type(exc).__name__}: {exc})"
        ) from None
    siblings = info.siblings
    if not (isinstance(info.sha, str) and COMMIT.match(info.sha)):
        raise CheckpointError(url, f"the Hub's model info has no commit sha (found {info.sha!r})")
    if not isinstance(siblings, list) or not all(
        isinstance(s.rfilename, str) and (s.size is None or (isinstance(s.size, int) and s.size >= 0)) for s in siblings
    ):
        raise CheckpointError(url, "the Hub's model info lists files without a name or a byte size")
    return info


def _shown(body: str) -> str:
    body = " ".join(str(body).split())
    return f"it begins {body[:60]!r}" if body else "the body is empty"


def writable_cache() -> None:
    """The Hugging Face cache (under HF_HOME) can take files: asked before the Hub is, so that a cache problem is
    called that, not a network error, and the client prints no warnings about it on the way."""
    import tempfile

    from huggingface_hub import constants

    cache = Path(constants.HF_HUB_CACHE)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=cache):
            pass
    except OSError as exc:
        raise CheckpointError(
            cache, f"the Hugging Face cache (HF_HOME) cannot be written: {exc.strerror or exc}"
        ) from None


def quiet_progress() -> None:
    """The client's progress bars and retry notices only on a terminal: in a log they are noise around the one line
    that matters (a failure's cause is in it)."""
    import sys

    from huggingface_hub.utils import disable_progress_bars, logging

    if not sys.stderr.isatty():
        disable_progress_bars()
        logging.set_verbosity_error()


def download(spec: str) -> Path:
    """The snapshot folder of ORG/NAME[@REVISION] in the Hugging Face cache, fetching what it lacks."""
    from huggingface_hub import constants, snapshot_download

    repo, revision = split_spec(spec)
    quiet_progress()
    with hub_errors(spec):
        if constants.HF_HUB_OFFLINE:
            return Path(snapshot_download(repo, revision=revision))
        writable_cache()
        info = model_info(repo, revision)
        snapshot = Path(snapshot_download(repo, revision=info.sha, etag_timeout=constants.HF_HUB_ETAG_TIMEOUT))
    for sibling in info.siblings:
        path = snapshot / sibling.rfilename
        if sibling.size is not None and path.is_file() and path.stat().st_size != sibling.size:
            raise CheckpointError(
                f"{spec}/{sibling.rfilename}",
                f"the Hub lists {sibling.size} bytes, the download holds {path.stat().st_size}",
            )
    return snapshot


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
        if exc.filename is not None:  # the file system, not the network: the cache under HF_HOME
            from huggingface_hub import constants

            raise CheckpointError(
                spec,
                f"the Hugging Face cache {constants.HF_HUB_CACHE} (HF_HOME) cannot be written: "
                f"{exc.strerror or exc} ({exc.filename})",
            ) from None
        raise CheckpointError(spec, f"network error reaching the Hub: {type(exc).__name__}: {exc}") from None
    except Exception as exc:
        if not type(exc).__module__.startswith(("httpx", "httpcore")):
            raise
        raise CheckpointError(spec, f"network error reaching the Hub: {type(exc).__name__}: {exc}") from None


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
