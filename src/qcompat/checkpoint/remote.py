"""A Hub checkpoint read header-only over HTTP: its small files downloaded, each shard's header by range requests.

Judged exactly as a local directory is: the result is the same Checkpoint, rooted at the snapshot folder in
the Hugging Face cache that holds the downloaded configs. huggingface_hub does the talking (HF_ENDPOINT,
HF_TOKEN, HF_HOME and offline mode honoured); nothing but the headers of the weights is fetched.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from qcompat.checkpoint.hub import hub_errors, model_info, quiet_progress, split_spec, writable_cache
from qcompat.checkpoint.local import (
    INDEX_FILE,
    SINGLE_FILE,
    Checkpoint,
    assemble,
    header_length,
    parse_header,
    records,
    shards_of,
)
from qcompat.errors import CheckpointError, InputError

SMALL_SUFFIXES = (".json", ".jinja")
SMALL_LIMIT = 2_000_000  # tokenizer.json of a large vocabulary is tens of MB: its presence is enough


@dataclass(frozen=True)
class Fetched:
    """What a remote read asked for and what it cost."""

    repo: str
    revision: str
    commit: str
    files: int
    bytes: int
    repo_bytes: int
    seconds: float

    def to_dict(self) -> dict:
        return asdict(self)

    def line(self) -> str:
        return (
            f"{self.repo}@{self.revision} (commit {self.commit[:12]}): read {self.bytes:,} of its {self.repo_bytes:,} "
            f"bytes ({self.files} small files, from the cache where present, and the safetensors headers) "
            f"in {self.seconds:.1f} s"
        )


def read_remote(spec: str) -> tuple[Checkpoint, Fetched]:
    from huggingface_hub import hf_hub_download

    repo, revision = split_spec(spec)
    start = time.perf_counter()
    quiet_progress()
    with hub_errors(spec), _named_in_repo(spec):
        writable_cache()
        info = model_info(repo, revision)
        sizes = {s.rfilename: s.size or 0 for s in info.siblings or [] if "/" not in s.rfilename}
        small = [name for name, size in sizes.items() if name.endswith(SMALL_SUFFIXES) and size <= SMALL_LIMIT]
        root = None
        for name in small:
            root = Path(hf_hub_download(repo, name, revision=info.sha)).parent
        if root is None or "config.json" not in sizes:
            raise CheckpointError(f"{spec}/config.json", "missing: not a Hugging Face checkpoint repo")
        if INDEX_FILE in sizes:
            shards, weight_map, total_size = shards_of(root)
        elif SINGLE_FILE in sizes:
            shards, weight_map, total_size = [SINGLE_FILE], None, None
        else:
            raise CheckpointError(spec, f"no {SINGLE_FILE} or {INDEX_FILE}: not a safetensors checkpoint")
        missing = [shard for shard in shards if shard not in sizes]
        if missing:
            raise CheckpointError(f"{spec}/{missing[0]}", "shard named by the index is missing from the repo")
        by_shard, header_bytes = {}, 0
        for shard in shards:
            by_shard[shard], fetched = _shard_records(repo, info.sha, shard, sizes[shard])
            header_bytes += fetched
        checkpoint = assemble(root, by_shard, {s: sizes[s] for s in shards}, weight_map, total_size, frozenset(sizes))
    fetched = Fetched(
        repo=repo,
        revision=revision or "main",
        commit=info.sha,
        files=len(small),
        bytes=sum(sizes[name] for name in small) + header_bytes,
        repo_bytes=sum(sizes.values()),
        seconds=time.perf_counter() - start,
    )
    return checkpoint, fetched


@contextlib.contextmanager
def _named_in_repo(spec: str) -> Iterator[None]:
    """A downloaded file that cannot be used is named as the repo's (ORG/NAME/config.json), not by its cache path."""
    try:
        yield
    except InputError as exc:
        path = Path(str(exc.path))
        if "snapshots" not in path.parts:
            raise
        raise CheckpointError(f"{spec}/{path.name}", exc.cause) from None


def _shard_records(repo: str, commit: str, shard: str, size: int) -> tuple[dict, int]:
    where = f"{repo}@{commit[:12]}/{shard}"
    prefix = _byte_range(repo, commit, shard, 0, 8)
    length = header_length(where, prefix, size)
    raw = _byte_range(repo, commit, shard, 8, length)
    return records(where, shard, parse_header(where, length, raw), 8 + length, size), 8 + length


def _byte_range(repo: str, commit: str, filename: str, start: int, count: int) -> bytes:
    """Bytes [start, start + count) of a file on the Hub, streamed: a server that ignores Range (200 with the
    whole file) is read only as far as needed, never into memory whole. One try, under the Hub client's
    download timeout (HF_HUB_DOWNLOAD_TIMEOUT): a retry inside a half-read stream is not one."""
    from huggingface_hub import constants, hf_hub_url
    from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

    if count == 0:
        return b""
    headers = {**build_hf_headers(), "Range": f"bytes={start}-{start + count - 1}", "Accept-Encoding": "identity"}
    url = hf_hub_url(repo, filename, revision=commit)
    timeout = constants.HF_HUB_DOWNLOAD_TIMEOUT
    with get_session().stream("GET", url, headers=headers, follow_redirects=True, timeout=timeout) as response:
        hf_raise_for_status(response)
        skip = 0 if response.status_code == 206 else start
        data = bytearray()
        for chunk in response.iter_bytes():
            data += chunk
            if len(data) >= skip + count:
                break
    if len(data) < skip + count:
        raise CheckpointError(url, f"the Hub sent {max(len(data) - skip, 0)} of the {count} bytes asked for")
    return bytes(data[skip : skip + count])
