"""Class 7: a misbehaving Hub on loopback for `qcompat inspect ORG/NAME --remote` and `qcompat fetch ORG/NAME`.

The Hub is selftests.support.fake_hub.FakeHub (the real huggingface_hub client talks to it through HF_ENDPOINT),
with one fault planted in its answers; repos whose files are damaged are served by the plain FakeHub. Every fault
is unusable input: 2, one line naming the repo (org/tiny) or the URL, within the timeout. A server that accepts
and never answers gets HF_HUB_ETAG_TIMEOUT=3 HF_HUB_DOWNLOAD_TIMEOUT=3 and 30 s. An HF_HOME that cannot be written
must be named as such (the line says HF_HOME, not "network").
"""

from __future__ import annotations

import json
import socket
import struct
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Self

from selftests.support.bad_input import UNUSABLE, Case, Run, Workspace, tiny
from selftests.support.fake_hub import RANGE, FakeHub, _oid

REPO = "org/tiny"
HTML = b"<!DOCTYPE html><html><head><title>Hugging Face</title></head><body>We are down for maintenance</body></html>"


class MisbehavingHub(FakeHub):
    """FakeHub with one fault in its answers."""

    def __init__(self, repos: dict[str, Path], fault: str):
        self.fault = fault
        super().__init__(repos)

    def _handler(self):
        base = super()._handler()
        hub = self

        class Handler(base):
            def _raw(self, status: int, payload: bytes, kind: str = "application/json", headers=None) -> None:
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(payload)))
                for key, value in (headers or {}).items():
                    self.send_header(key, value)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            def _info(self, repo: str, rev: str | None) -> None:
                fault = hub.fault
                if fault == "info-not-json":
                    return self._raw(200, b'{"id": "org/tiny", "sha": ')
                if fault == "info-html":
                    return self._raw(200, HTML, "text/html")
                if fault == "info-empty-body":
                    return self._raw(200, b"")
                if fault == "info-a-list":
                    return self._raw(200, b"[]")
                if fault == "info-500":
                    return self._error(500, "", "Internal Error - We're working hard to fix this as soon as possible!")
                if fault == "info-redirect-loop":
                    return self._raw(302, b"", headers={"Location": self.path})
                located = hub._locate(repo, rev)
                if isinstance(located, str):
                    return self._error(404, located, f"{repo}@{rev}: {located}")
                commit, root = located
                siblings = [{"rfilename": p.name, "size": p.stat().st_size} for p in sorted(root.iterdir())]
                info = {"id": repo, "modelId": repo, "sha": commit, "private": False, "siblings": siblings}
                if fault == "info-missing-sha":
                    del info["sha"]
                elif fault == "info-sha-a-number":
                    info["sha"] = 5
                elif fault == "info-siblings-a-string":
                    info["siblings"] = "model.safetensors"
                elif fault == "info-sibling-without-name":
                    info["siblings"] = [{"size": 5}, *siblings]
                elif fault == "info-size-lies":
                    for sibling in siblings:
                        if sibling["rfilename"] == "model.safetensors":
                            sibling["size"] = 16
                elif fault == "info-size-a-string":
                    for sibling in siblings:
                        sibling["size"] = "big"
                return self._json(info)

            def _file(self, repo: str, rev: str, name: str, body: bool) -> None:
                fault = hub.fault
                weights = name.endswith(".safetensors")
                if fault == "config-html" and name == "config.json":
                    return self._raw(200, HTML, "text/html", self._file_headers(repo, name))
                if fault == "weights-404" and weights:
                    return self._error(404, "EntryNotFound", f"{name} not in {repo}@{rev}")
                if fault == "weights-html" and weights:
                    return self._raw(200, HTML, "text/html", self._file_headers(repo, name))
                if fault == "weights-503" and weights:
                    return self._error(503, "", "Service Unavailable")
                if fault == "no-etag" and self.command == "HEAD":
                    return self._raw(200, b"", headers={})
                ranged = RANGE.match(self.headers.get("Range", ""))
                if fault in ("range-truncated", "range-short-body", "range-wrong-bytes") and weights and ranged:
                    located = hub._locate(repo, rev)
                    _, root = located
                    data = (root / name).read_bytes()
                    start = int(ranged[1])
                    stop = min(len(data), int(ranged[2]) + 1) if ranged[2] else len(data)
                    chunk = data[start:stop]
                    if fault == "range-wrong-bytes":
                        chunk = b"\xff" * len(chunk)
                    sent = chunk[: max(1, len(chunk) // 2)] if fault != "range-wrong-bytes" else chunk
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{stop - 1}/{len(data)}")
                    self.send_header("Content-Length", str(len(chunk) if fault == "range-short-body" else len(sent)))
                    self.end_headers()
                    self.wfile.write(sent)
                    self.wfile.flush()
                    self.close_connection = True
                    return None
                return super()._file(repo, rev, name, body)

            def _file_headers(self, repo: str, name: str) -> dict[str, str]:
                commit = hub.repos[repo][0]
                return {"X-Repo-Commit": commit, "ETag": f'"{_oid(commit, name)}"'}

        return Handler


class SilentServer:
    """Accepts connections and never answers (or, with close=True, hangs up at once)."""

    def __init__(self, close: bool = False):
        self.close = close
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(64)
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._socket.getsockname()
        return f"http://{host}:{port}"

    def _serve(self) -> None:
        self._socket.settimeout(0.2)
        while not self._stop.is_set():
            try:
                connection, _ = self._socket.accept()
            except OSError:
                continue
            if self.close:
                connection.close()
            else:
                self._held.append(connection)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        for connection in self._held:
            connection.close()
        self._socket.close()


def _damaged_repo(ws: Workspace, damage: Callable[[Path], None]) -> Path:
    root = ws.checkpoint(name="served")
    damage(root / "model.safetensors")
    return root


def _header_not_json(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[8:9] = b"["
    path.write_bytes(bytes(raw))


def _header_length_beyond(path: Path) -> None:
    raw = bytearray(path.read_bytes())
    raw[0:8] = struct.pack("<Q", len(raw) * 4)
    path.write_bytes(bytes(raw))


def _header_a_list(path: Path) -> None:
    data = path.read_bytes()
    length = struct.unpack("<Q", data[:8])[0]
    header = b"[1,2,3]" + b" " * (length - 7)
    path.write_bytes(data[:8] + header + data[8 + length :])


def _header_overlapping(path: Path) -> None:
    data = path.read_bytes()
    length = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8 : 8 + length])
    first = next(iter(k for k in header if k != "__metadata__"))
    second = list(header)[1]
    header[second]["data_offsets"] = [o - 8 for o in header[second]["data_offsets"]]
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (length - len(text)) if len(text) <= length else b""
    assert first and len(text) == length
    path.write_bytes(data[:8] + text + data[8 + length :])


def _file_too_short(path: Path) -> None:
    path.write_bytes(b"\x08\0\0")


def _config_a_list(root: Path) -> None:
    (root / "config.json").write_text("[]")


def _serve(
    ws: Workspace, command: str, hub: FakeHub | SilentServer, extra_env: dict[str, str] | None = None, timeout=20.0
) -> Run:
    hub.__enter__()
    ws.cleanups.append(lambda: hub.__exit__(None, None, None))
    env = {"HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_TELEMETRY": "1", **(extra_env or {})}
    args = ["inspect", REPO, "--remote"] if command == "inspect" else ["fetch", REPO]
    return Run(args, named=(REPO, hub.url), env=env, online=True, timeout=timeout)


RETRIED = 45.0  # huggingface_hub retries a 503 five times, waiting 1+2+4+8+8 s: slow, bounded, not a hang


def _fault(fault: str, command: str) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        timeout = RETRIED if fault.endswith("-503") else 20.0
        return _serve(ws, command, MisbehavingHub({REPO: tiny()}, fault), timeout=timeout)

    return build


def _damaged(damage: Callable[[Path], None], command: str, whole: bool = False) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        if whole:
            root = ws.checkpoint(name="served")
            damage(root)
        else:
            root = _damaged_repo(ws, damage)
        run = _serve(ws, command, FakeHub({REPO: root}))
        run.named += ("model.safetensors", "config.json")
        return run

    return build


def _silent(close: bool, command: str) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        env = {"HF_HUB_ETAG_TIMEOUT": "3", "HF_HUB_DOWNLOAD_TIMEOUT": "3"}
        return _serve(ws, command, SilentServer(close), env, timeout=30.0)

    return build


def _hf_home(how: str, command: str) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        if how == "under-a-file":
            plain = ws.path("plain-file")
            plain.write_text("x")
            home = plain / "hf-home"
        elif how == "in-proc":
            home = Path("/proc/qcompat-hf-home")
        else:  # read-only, as nobody
            home = ws.path("ro-home/x").parent
            home.chmod(0o555)
        run = _serve(ws, command, FakeHub({REPO: tiny()}), {"HF_HOME": str(home)})
        run.named = ("HF_HOME", str(home))
        run.not_named = ("network",)
        run.unprivileged = how == "read-only"
        return run

    return build


FAULTS = [
    "info-not-json",
    "info-html",
    "info-empty-body",
    "info-a-list",
    "info-500",
    "info-redirect-loop",
    "info-missing-sha",
    "info-sha-a-number",
    "info-siblings-a-string",
    "info-sibling-without-name",
    "info-size-lies",
    "info-size-a-string",
    "config-html",
    "weights-404",
    "weights-html",
    "weights-503",
    "no-etag",
    "range-truncated",
    "range-short-body",
    "range-wrong-bytes",
]
# The remote inspect reads only ranges of the weights; fetch downloads them whole (no ranges there).
FETCH_FAULTS = [f for f in FAULTS if not f.startswith("range-")]

DAMAGED = [
    ("header-not-json", _header_not_json, False),
    ("header-length-beyond-file", _header_length_beyond, False),
    ("header-a-list", _header_a_list, False),
    ("header-overlapping-offsets", _header_overlapping, False),
    ("weights-too-short", _file_too_short, False),
    ("config-a-list", _config_a_list, True),
]


def cases() -> list[Case]:
    found = [Case(f"hub-remote-{fault}", _fault(fault, "inspect"), UNUSABLE, "hub", twin=True) for fault in FAULTS]
    found += [Case(f"hub-fetch-{fault}", _fault(fault, "fetch"), UNUSABLE, "hub") for fault in FETCH_FAULTS]
    for name, damage, whole in DAMAGED:
        found.append(Case(f"hub-remote-{name}", _damaged(damage, "inspect", whole), UNUSABLE, "hub", twin=True))
    for close in (False, True):
        label = "closes-at-once" if close else "never-answers"
        found.append(Case(f"hub-remote-server-{label}", _silent(close, "inspect"), UNUSABLE, "hub", twin=True))
        found.append(Case(f"hub-fetch-server-{label}", _silent(close, "fetch"), UNUSABLE, "hub"))
    for how in ("under-a-file", "in-proc", "read-only"):
        found.append(Case(f"hub-remote-hf_home-{how}", _hf_home(how, "inspect"), UNUSABLE, "hub", twin=True))
        found.append(Case(f"hub-fetch-hf_home-{how}", _hf_home(how, "fetch"), UNUSABLE, "hub"))
    return found
