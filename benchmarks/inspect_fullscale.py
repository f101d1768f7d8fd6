"""Benchmark `qcompat inspect` on a full-scale layout of the published checkpoint (issue: foundation).

1. Header-only: the whole `qcompat inspect` process vs a bare `python -c` reading the three headers with
   struct + json, run alternately; prints medians and their ratio (target: at most 3x). Then the same in one
   process, imports excluded: inspect_checkpoint vs the bare read.
2. Remote: the same layout served by the selftests' loopback Hub, `qcompat inspect ORG/NAME --remote` (a fresh
   HF_HOME each round, so the configs are downloaded again) next to a local inspect of the same files: bytes
   fetched, and both medians.
3. Numerics on page-cached files: GB/s of packed weights on one core, and peak memory vs the largest tensor.

    python benchmarks/inspect_fullscale.py [--rounds 10] [--dir /tmp/qcompat-bench]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from selftests.support.published_layout import write_checkpoint

BARE_READ = """
import json, struct, sys
for path in sys.argv[1:]:
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        json.loads(f.read(n))
"""

# VmHWM, not ru_maxrss: Linux carries ru_maxrss across exec from the (large) benchmark parent.
PEAK_RSS = """
import re, sys, time
def hwm():
    return int(re.search(r"VmHWM:\\s+(\\d+) kB", open("/proc/self/status").read()).group(1)) * 1024
from qcompat.checkpoint.local import read_checkpoint
from qcompat.inspection.run import profile_for
from qcompat.inspection.layout import run_layout
from qcompat.inspection.numerics import check_numerics
ckpt = read_checkpoint(sys.argv[1])
layout = run_layout(ckpt, profile_for(ckpt, None))
modules = [module for module, _, _ in layout.gptq_modules]
before = hwm()
packed = sum(ckpt.tensors[m + "." + p].nbytes for m in modules for p in ("qweight", "qzeros", "scales", "g_idx"))
start = time.perf_counter()
findings = check_numerics(ckpt, layout.packing, modules)
seconds = time.perf_counter() - start
after = hwm()
largest = max(ckpt.tensors[m + ".qweight"].nbytes for m in ckpt.gptq_modules())
print(len(findings), packed, seconds, before, after, largest)
"""


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    return time.perf_counter() - start


def header_only(root: Path, rounds: int) -> None:
    shards = sorted(str(p) for p in root.glob("model-*.safetensors"))
    inspect = [str(Path(sys.executable).with_name("qcompat")), "inspect", str(root)]  # the console script users run
    bare = [sys.executable, "-c", BARE_READ, *shards]
    result = subprocess.run([*inspect, "--json"], check=False, capture_output=True, text=True)
    summary = json.loads(result.stdout)
    print(
        f"layout: {summary['tensors']} tensors, {summary['total_bytes'] / 1e9:.2f} GB in {len(shards)} shards, "
        f"exit {result.returncode}, profile {summary['profile']}"
    )
    timed(inspect), timed(bare)
    inspect_times, bare_times = [], []
    for _ in range(rounds):
        inspect_times.append(timed(inspect))
        bare_times.append(timed(bare))
    a, b = statistics.median(inspect_times), statistics.median(bare_times)
    print(
        f"header-only: qcompat inspect {a * 1000:.0f} ms, bare struct+json {b * 1000:.0f} ms (medians of {rounds}, "
        f"alternating): ratio {a / b:.2f}x (target <= 3x)"
    )
    in_process(root, shards, rounds)


def in_process(root: Path, shards: list[str], rounds: int) -> None:
    from qcompat.inspection.run import inspect_checkpoint

    def bare() -> None:
        for path in shards:
            with open(path, "rb") as f:
                json.loads(f.read(struct.unpack("<Q", f.read(8))[0]))

    inspect_checkpoint(root)
    inspect_times, bare_times = [], []
    for _ in range(rounds * 5):
        start = time.perf_counter()
        inspect_checkpoint(root)
        inspect_times.append(time.perf_counter() - start)
        start = time.perf_counter()
        bare()
        bare_times.append(time.perf_counter() - start)
    a, b = statistics.median(inspect_times), statistics.median(bare_times)
    print(
        f"in one process, imports excluded: inspect_checkpoint {a * 1000:.1f} ms, bare read {b * 1000:.1f} ms: "
        f"ratio {a / b:.2f}x"
    )


def remote(root: Path, rounds: int) -> None:
    import tempfile

    from selftests.support.fake_hub import FakeHub

    qcompat = str(Path(sys.executable).with_name("qcompat"))
    local = [qcompat, "inspect", str(root), "--json"]
    with FakeHub({"bench/gemma-4-12b-it-int4": root}) as hub, tempfile.TemporaryDirectory() as homes:
        over_http = [qcompat, "inspect", "bench/gemma-4-12b-it-int4", "--remote", "--json"]
        env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_TELEMETRY": "1"}
        remote_times, local_times, fetched = [], [], {}
        for round_ in range(rounds):
            start = time.perf_counter()
            out = subprocess.run(
                over_http, check=False, capture_output=True, text=True, env={**env, "HF_HOME": f"{homes}/{round_}"}
            ).stdout
            remote_times.append(time.perf_counter() - start)
            fetched = json.loads(out)["remote"]
            local_times.append(timed(local))
    a, b = statistics.median(remote_times), statistics.median(local_times)
    print(
        f"remote: fetched {fetched['bytes']:,} of {fetched['repo_bytes']:,} bytes ({fetched['files']} small files "
        f"and 3 headers; the loopback Hub counted {sum(hub.sent.values()) // rounds:,} sent per round); "
        f"--remote {a * 1000:.0f} ms vs local {b * 1000:.0f} ms (medians of {rounds}, alternating)"
    )


def numerics(root: Path) -> None:
    for shard in root.glob("model-*.safetensors"):
        with shard.open("rb") as handle:
            while handle.read(1 << 24):
                pass
    out = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(root)],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"},
    ).stdout.split()
    findings, packed, seconds, before, after, largest = int(out[0]), int(out[1]), float(out[2]), *map(int, out[3:])
    print(
        f"numerics: {packed / 1e9:.2f} GB packed in {seconds:.1f} s = {packed / 1e9 / seconds:.2f} GB/s on one core; "
        f"{findings} findings"
    )
    print(
        f"numerics: peak RSS {after / 1e6:.0f} MB ({(after - before) / 1e6:.0f} MB over the header-only process); "
        f"largest packed tensor {largest / 1e6:.1f} MB"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/qcompat-bench"))
    parser.add_argument("--skip-numerics", action="store_true")
    args = parser.parse_args()
    shutil.rmtree(args.dir, ignore_errors=True)
    sparse = write_checkpoint(args.dir / "sparse")
    header_only(sparse, args.rounds)
    remote(sparse, args.rounds)
    if not args.skip_numerics:
        print("writing a full-scale layout with valid packed data for all 48 layers (~4.4 GB on disk)...", flush=True)
        numerics(write_checkpoint(args.dir / "dense", real_layers=48))
    shutil.rmtree(args.dir, ignore_errors=True)


if __name__ == "__main__":
    main()
