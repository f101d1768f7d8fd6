"""A Hub of the project's own on loopback: checkpoint directories served under the Hub's URL layout.

Enough of the Hub's API for huggingface_hub's client to resolve a revision, list a repo's files with their
sizes, HEAD and download a file, and read byte ranges of it (HTTP Range, 206). Errors carry the Hub's
X-Error-Code, so the client raises what it raises against the real Hub. Every body byte sent is counted per
file, so a test can prove what a client read.

    with FakeHub({"org/tiny": Path("fixtures/tiny/int4")}) as hub:
        env = {"HF_ENDPOINT": hub.url, ...}
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Self
from urllib.parse import unquote, urlparse

INFO = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)(?:/revision/(?P<rev>[^/]+))?$")
TREE = re.compile(r"^/api/models/(?P<repo>[^/]+/[^/]+)/tree/(?P<rev>[^/]+)/?$")
RESOLVE = re.compile(r"^/(?P<repo>[^/]+/[^/]+)/resolve/(?P<rev>[^/]+)/(?P<path>.+)$")
RANGE = re.compile(r"^bytes=(\d+)-(\d*)$")


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_file())


def _oid(commit: str, name: str) -> str:
    return hashlib.sha1(f"{commit}/{name}".encode()).hexdigest()


def commit_of(root: Path) -> str:
    """A stable 40-hex commit id for a directory's file names and sizes."""
    listing = [(p.name, p.stat().st_size) for p in _files(root)]
    return hashlib.sha1(json.dumps(listing).encode()).hexdigest()


class FakeHub:
    def __init__(self, repos: dict[str, Path], honour_ranges: bool = True):
        self.honour_ranges = honour_ranges  # False: answer 200 with the whole file, as some proxies do
        self.repos = {repo: (commit_of(root), root) for repo, root in repos.items()}
        self.sent: Counter[str] = Counter()  # "org/name/file" -> body bytes sent
        self.requests: list[tuple[str, str, str]] = []  # (method, path, Range header)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def sent_for(self, repo: str, filename: str) -> int:
        return self.sent[f"{repo}/{filename}"]

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _locate(self, repo: str, rev: str | None) -> tuple[str, Path] | str:
        if repo not in self.repos:
            return "RepoNotFound"
        commit, root = self.repos[repo]
        return (commit, root) if rev in (None, "main", commit) else "RevisionNotFound"

    def _handler(self):
        hub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_HEAD(self) -> None:
                self._serve(body=False)

            def do_GET(self) -> None:
                self._serve(body=True)

            def _serve(self, body: bool) -> None:
                path = unquote(urlparse(self.path).path)
                hub.requests.append((self.command, path, self.headers.get("Range", "")))
                info, tree, resolve = INFO.match(path), TREE.match(path), RESOLVE.match(path)
                if info and body:
                    self._info(info["repo"], info["rev"])
                elif tree and body:
                    self._tree(tree["repo"], tree["rev"])
                elif resolve:
                    self._file(resolve["repo"], resolve["rev"], resolve["path"], body)
                else:
                    self._error(404, "", "no such route")

            def _error(self, status: int, code: str, message: str) -> None:
                payload = json.dumps({"error": message}).encode()
                self.send_response(status)
                if code:
                    self.send_header("X-Error-Code", code)
                    self.send_header("X-Error-Message", message)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _info(self, repo: str, rev: str | None) -> None:
                located = hub._locate(repo, rev)
                if isinstance(located, str):
                    self._error(404, located, f"{repo}@{rev}: {located}")
                    return
                commit, root = located
                siblings = [{"rfilename": p.name, "size": p.stat().st_size} for p in _files(root)]
                self._json({"id": repo, "modelId": repo, "sha": commit, "private": False, "siblings": siblings})

            def _tree(self, repo: str, rev: str) -> None:
                located = hub._locate(repo, rev)
                if isinstance(located, str):
                    self._error(404, located, f"{repo}@{rev}: {located}")
                    return
                commit, root = located
                self._json(
                    [
                        {"type": "file", "path": p.name, "size": p.stat().st_size, "oid": _oid(commit, p.name)}
                        for p in _files(root)
                    ]
                )

            def _json(self, value: object) -> None:
                payload = json.dumps(value).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def _file(self, repo: str, rev: str, name: str, body: bool) -> None:
                located = hub._locate(repo, rev)
                if isinstance(located, str):
                    self._error(404, located, f"{repo}@{rev}: {located}")
                    return
                commit, root = located
                file = root / name
                if "/" in name or not file.is_file():
                    self._error(404, "EntryNotFound", f"{name} not in {repo}@{rev}")
                    return
                size = file.stat().st_size
                start, stop, status = 0, size, 200
                ranged = RANGE.match(self.headers.get("Range", ""))
                if ranged and hub.honour_ranges:
                    start = int(ranged[1])
                    stop = min(size, int(ranged[2]) + 1) if ranged[2] else size
                    status = 206
                self.send_response(status)
                self.send_header("X-Repo-Commit", commit)
                self.send_header("ETag", f'"{_oid(commit, name)}"')
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(stop - start))
                if status == 206:
                    self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{size}")
                self.end_headers()
                if body:
                    with file.open("rb") as handle:
                        handle.seek(start)
                        data = handle.read(stop - start)
                    self.wfile.write(data)
                    hub.sent[f"{repo}/{name}"] += len(data)

        return Handler


def main() -> None:
    """python -m selftests.support.fake_hub ORG/NAME=DIR ...: serve until interrupted, printing HF_ENDPOINT."""
    import sys
    import time

    repos = dict(arg.split("=", 1) for arg in sys.argv[1:])
    with FakeHub({repo: Path(root) for repo, root in repos.items()}) as hub:
        print(f"HF_ENDPOINT={hub.url}", flush=True)
        for repo, (commit, root) in hub.repos.items():
            print(f"{repo} -> {root} (commit {commit})", flush=True)
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass


if __name__ == "__main__":
    main()
