"""Class 4: files the user cannot read, and things that are not regular files where a file should be.

Permission bits do not stop root, so the permission cases run the CLI as nobody (setpriv --reuid=65534) on a copy
in a world-readable workspace; where that is impossible they are skipped saying why (those cases only). A FIFO, a
device, a socket, a symlink loop or a directory in place of a file the command reads is unusable input: 2, naming
it, and never a block (a FIFO with no writer blocks an open for reading; /dev/urandom never ends). An engine file
qcompat may only check for (tokenizer_config.json beside a chat_template.jinja) must still not pass as present
when it is a FIFO or a directory: 1 or 2.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from pathlib import Path

from selftests.support.bad_input import NONCONFORMING, UNUSABLE, Case, Run, Workspace
from selftests.support.bad_input.results import valid_results
from selftests.support.planting import shard


def _replace(path: Path) -> None:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.is_dir():
        import shutil

        shutil.rmtree(path)


def fifo(path: Path) -> None:
    _replace(path)
    os.mkfifo(path)


def directory(path: Path) -> None:
    _replace(path)
    path.mkdir()
    (path / "inside.txt").write_text("a directory, not a file\n")


def unix_socket(path: Path) -> None:
    _replace(path)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.close()  # the socket file stays


def loop(path: Path) -> None:
    _replace(path)
    other = path.with_name(path.name + ".loop")
    other.symlink_to(path.name)
    path.symlink_to(other.name)


def self_loop(path: Path) -> None:
    _replace(path)
    path.symlink_to(path.name)


def device(target: str) -> Callable[[Path], None]:
    def plant(path: Path) -> None:
        _replace(path)
        path.symlink_to(target)

    return plant


def to_directory(path: Path) -> None:
    _replace(path)
    path.with_name("elsewhere").mkdir()
    path.symlink_to("elsewhere")


def dangling(path: Path) -> None:
    _replace(path)
    path.symlink_to("nowhere-at-all.json")


def unreadable(path: Path) -> None:
    path.chmod(0)


PLANTS: dict[str, Callable[[Path], None]] = {
    "fifo": fifo,
    "directory": directory,
    "socket": unix_socket,
    "symlink-loop": loop,
    "symlink-to-itself": self_loop,
    "dev-null": device("/dev/null"),
    "dev-zero": device("/dev/zero"),
    "dev-urandom": device("/dev/urandom"),
    "symlink-to-directory": to_directory,
    "dangling-symlink": dangling,
    "unreadable": unreadable,
}


def _in_checkpoint(
    name: str, how: str, sharded: bool = False, drop: tuple[str, ...] = ()
) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        root = ws.checkpoint()
        if sharded:
            shard(root, parts=2)
        for gone in drop:
            (root / gone).unlink()
        PLANTS[how](root / name)
        return Run(["inspect", str(root)], named=(name,), unprivileged=how == "unreadable")

    return build


def _root(how: str) -> Callable[[Workspace], Run]:
    """The checkpoint directory itself."""

    def build(ws: Workspace) -> Run:
        root = ws.checkpoint()
        if how == "unreadable-dir":
            root.chmod(0)
        elif how == "unlistable-dir":
            root.chmod(0o311)  # enter, not list
        elif how == "a-file":
            root = ws.path("ckpt.json")
            root.write_text("{}")
        else:
            target = ws.path("ckpt-elsewhere")
            PLANTS[how](target)
            root = target
        return Run(["inspect", str(root)], named=(root.name,), unprivileged=how.startswith("un"))

    return build


SHARD = "model-00002-of-00002.safetensors"
INDEX = "model.safetensors.index.json"

IN_CHECKPOINT: list[tuple[str, str, bool, tuple[str, ...], tuple[int, ...]]] = [
    # (file, how, sharded, files removed first, expected)
    ("model.safetensors", "unreadable", False, (), UNUSABLE),
    ("config.json", "unreadable", False, (), UNUSABLE),
    ("quantization_config.json", "unreadable", False, (), UNUSABLE),
    (INDEX, "unreadable", True, (), UNUSABLE),
    (SHARD, "unreadable", True, (), UNUSABLE),
    ("tokenizer_config.json", "unreadable", False, ("chat_template.jinja",), UNUSABLE),
    ("model.safetensors", "fifo", False, (), UNUSABLE),
    ("config.json", "fifo", False, (), UNUSABLE),
    ("quantization_config.json", "fifo", False, (), UNUSABLE),
    (INDEX, "fifo", True, (), UNUSABLE),
    (SHARD, "fifo", True, (), UNUSABLE),
    ("tokenizer_config.json", "fifo", False, (), NONCONFORMING),
    ("tokenizer_config.json", "fifo", False, ("chat_template.jinja",), UNUSABLE),
    ("config.json", "socket", False, (), UNUSABLE),
    ("model.safetensors", "socket", False, (), UNUSABLE),
    ("config.json", "symlink-loop", False, (), UNUSABLE),
    ("config.json", "symlink-to-itself", False, (), UNUSABLE),
    ("model.safetensors", "symlink-loop", False, (), UNUSABLE),
    (SHARD, "symlink-loop", True, (), UNUSABLE),
    ("quantization_config.json", "symlink-loop", False, (), UNUSABLE),
    ("model.safetensors", "dev-null", False, (), UNUSABLE),
    ("config.json", "dev-null", False, (), UNUSABLE),
    (SHARD, "dev-null", True, (), UNUSABLE),
    ("model.safetensors", "dev-zero", False, (), UNUSABLE),
    ("config.json", "dev-urandom", False, (), UNUSABLE),
    (INDEX, "dev-zero", True, (), UNUSABLE),
    ("config.json", "directory", False, (), UNUSABLE),
    ("model.safetensors", "directory", False, (), UNUSABLE),
    ("quantization_config.json", "directory", False, (), UNUSABLE),
    (INDEX, "directory", True, (), UNUSABLE),
    (SHARD, "directory", True, (), UNUSABLE),
    ("tokenizer_config.json", "directory", False, ("chat_template.jinja",), UNUSABLE),
    ("tokenizer_config.json", "directory", False, (), NONCONFORMING),
    ("config.json", "symlink-to-directory", False, (), UNUSABLE),
    ("config.json", "dangling-symlink", False, (), UNUSABLE),
    ("model.safetensors", "dangling-symlink", False, (), UNUSABLE),
]


def _label(name: str) -> str:
    return {SHARD: "shard", INDEX: "index", "model.safetensors": "weights"}.get(name, name.removesuffix(".json"))


def _profile(how: str) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        path = ws.path("profile.yaml")
        path.write_text("name: x\n")
        PLANTS[how](path)
        return Run(["inspect", "--profile", str(path)], named=("profile.yaml",), unprivileged=how == "unreadable")

    return build


def _results(how: str, whole_dir: bool = False) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        folder = valid_results(ws)
        if whole_dir:
            folder.chmod(0)
            named = ("results",)
        else:
            PLANTS[how](folder / "stable.json")
            named = ("stable.json",)
        return Run(["report", str(folder)], named=named, unprivileged=how == "unreadable" or whole_dir)

    return build


def _registry(how: str, flag: str) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        from qcompat.fixtures import fixtures_dir

        path = ws.path("registry.yaml")
        path.write_text("entries: []\n")
        PLANTS[how](path)
        args = ["provenance", "--registry", str(path), "--replay", str(fixtures_dir() / "known_issues.provenance.yaml")]
        if flag == "--replay":
            args = ["provenance", "--replay", str(path)]
        return Run(args, named=("registry.yaml",), unprivileged=how == "unreadable")

    return build


def _expect_checkpoint(how: str) -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        root = ws.checkpoint()
        PLANTS[how](root / "config.json")
        return Run(["expect", "--checkpoint", str(root)], named=("config.json",), unprivileged=how == "unreadable")

    return build


def cases() -> list[Case]:
    found = []
    for name, how, sharded, drop, expect in IN_CHECKPOINT:
        case_id = f"access-{_label(name)}-{how}" + ("-no-chat-template-file" if drop else "")
        found.append(Case(case_id, _in_checkpoint(name, how, sharded, drop), expect, "access", twin=True))
    for how in ("unreadable-dir", "unlistable-dir", "a-file", "fifo", "symlink-loop", "dev-null"):
        found.append(Case(f"access-checkpoint-dir-{how}", _root(how), UNUSABLE, "access", twin=True))
    for how in ("unreadable", "fifo", "directory", "symlink-loop", "dev-zero"):
        found.append(Case(f"access-profile-{how}", _profile(how), UNUSABLE, "access", twin=True))
    for how in ("unreadable", "fifo", "symlink-loop", "dev-urandom", "socket"):
        found.append(Case(f"access-results-file-{how}", _results(how), UNUSABLE, "access", twin=True))
    found.append(Case("access-results-dir-unreadable", _results("", whole_dir=True), UNUSABLE, "access", twin=True))
    for how in ("unreadable", "fifo", "directory"):
        found.append(Case(f"access-registry-{how}", _registry(how, "--registry"), UNUSABLE, "access"))
    for how in ("fifo", "dev-zero"):
        found.append(Case(f"access-replay-{how}", _registry(how, "--replay"), UNUSABLE, "access"))
    for how in ("unreadable", "fifo"):
        found.append(Case(f"access-expect-config-{how}", _expect_checkpoint(how), UNUSABLE, "access", twin=True))
    return found
