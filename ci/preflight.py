"""Is this runner ready for a GPU job? One line per check; exit 0 when all hold, 2 when any does not.

    python ci/preflight.py [--checkpoint SPEC] [--base SPEC] [--gpu 12.0|any|none] [--min-free-gib 60]

With a GPU, its driver must support the card's CUDA major version (the "CUDA Version" nvidia-smi prints).

The checkpoint defaults to $QCOMPAT_CHECKPOINT and must be set: a GPU job never falls back to the embedded tiny
checkpoint, and one whose sizes are the tiny's is refused too. A Hub checkpoint is read header-only (its configs
and safetensors headers), so the check costs a few MB, never the 11 GB download.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from qcompat.engines.processes import gpu_holders
from qcompat.env.probe import Gpu, driver_cuda, probe
from qcompat.errors import QcompatError
from qcompat.suite.card import recipes

EXIT_OK, EXIT_UNUSABLE = 0, 2
ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Check:
    name: str
    ok: bool
    text: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'FAIL'}  {self.name:<10}  {self.text}"


def checkpoint_check(name: str, variable: str, spec: str | None, what: str) -> Check:
    if not spec:
        return Check(name, False, f"{variable} is not set: name {what} (a directory or ORG/NAME@REVISION)")
    from qcompat.checkpoint.hub import is_repo_spec
    from qcompat.inspection.run import profile_for

    try:
        if not Path(spec).exists() and is_repo_spec(spec):
            from qcompat.checkpoint.remote import read_remote

            checkpoint, fetched = read_remote(spec)
            where = f"{spec}, header-only from the Hub ({fetched.bytes:,} bytes)"
        else:
            from qcompat.checkpoint.local import read_checkpoint

            checkpoint = read_checkpoint(spec)
            where = str(checkpoint.root)
        profile = profile_for(checkpoint, None)
    except QcompatError as exc:
        return Check(name, False, f"{variable}={spec}: {exc}")
    if profile.variant != "published":
        return Check(
            name,
            False,
            f"{variable}={spec} has the sizes of the embedded {profile.variant} checkpoint "
            f"({profile.label}): this job needs the real one",
        )
    gigabytes = checkpoint.total_bytes / 1e9
    return Check(name, True, f"{where}: {len(checkpoint.tensors)} tensors, {gigabytes:.1f} GB ({profile.label})")


def driver_check(wanted: str, supports: str | None) -> Check:
    if supports is None:
        return Check("driver", False, "nvidia-smi does not say which CUDA the driver supports")
    text = f"supports CUDA {supports}"
    if int(supports.split(".")[0]) < int(wanted.split(".")[0]):
        return Check("driver", False, f"{text}; the card was verified on CUDA {wanted}: update the driver")
    return Check("driver", True, text)


def gpu_check(wanted: str, gpus: list[Gpu]) -> Check:
    if wanted == "none":
        return Check("gpu", True, "not required")
    if not gpus:
        found = "nvidia-smi lists no GPU" if shutil.which("nvidia-smi") else "no nvidia-smi on PATH"
        return Check("gpu", False, f"no NVIDIA GPU ({found}); this job needs one")
    first = gpus[0]
    text = f"{first.name}, compute capability {first.compute_capability}, driver {first.driver}"
    if wanted != "any" and first.compute_capability != wanted:
        return Check("gpu", False, f"{text}; the card's claims need compute capability {wanted}")
    return Check("gpu", True, text)


def idle_check(gpus: list[Gpu]) -> Check:
    if not gpus:
        return Check("idle", True, "no GPU to share")
    holders = gpu_holders()
    if holders:
        return Check("idle", False, f"the GPU is in use by {', '.join(holders)}: run ci/gpu-cleanup, or wait")
    return Check("idle", True, "no process holds GPU memory")


def disk_check(min_free_gib: float) -> list[Check]:
    places = {"repository": ROOT, "HF_HOME": Path(os.environ.get("HF_HOME", Path.home() / ".cache/huggingface"))}
    checks, seen = [], set()
    for label, place in places.items():
        existing = next(p for p in [place, *place.parents] if p.exists())
        if existing.stat().st_dev in seen:  # the same filesystem, counted once
            continue
        seen.add(existing.stat().st_dev)
        free = shutil.disk_usage(existing).free / 2**30
        text = f"{free:.0f} GiB free at {existing} ({label})"
        checks.append(
            Check(
                "disk", free >= min_free_gib, text + ("" if free >= min_free_gib else f"; needs {min_free_gib:g} GiB")
            )
        )
    return checks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=os.environ.get("QCOMPAT_CHECKPOINT"))
    parser.add_argument("--base", default=None, help="also check the BF16 base ($QCOMPAT_BASE) this way")
    parser.add_argument(
        "--gpu",
        default=recipes()["verified_on"]["compute_capability"],
        help="the compute capability required (default: the card's), 'any' or 'none'",
    )
    parser.add_argument("--min-free-gib", type=float, default=60.0)
    args = parser.parse_args(argv)
    gpus = probe().gpus if args.gpu != "none" else []
    checks = [checkpoint_check("checkpoint", "QCOMPAT_CHECKPOINT", args.checkpoint, "the real checkpoint")]
    if args.base is not None:
        checks.append(checkpoint_check("base", "QCOMPAT_BASE", args.base, "the BF16 base it was quantized from"))
    checks.append(gpu_check(args.gpu, gpus))
    if gpus:
        checks.append(driver_check(recipes()["verified_on"]["cuda"], driver_cuda()))
    checks += [idle_check(gpus), *disk_check(args.min_free_gib)]
    for check in checks:
        print(check.line())
    failed = [check for check in checks if not check.ok]
    print(f"preflight: {'FAILED' if failed else 'ready'} ({len(checks) - len(failed)} of {len(checks)} hold)")
    return EXIT_UNUSABLE if failed else EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
