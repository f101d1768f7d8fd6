"""Class 8: `qcompat expect --cpu-flags` given the flags as users copy them: the line as /proc/cpuinfo prints it
("flags\\t\\t: fpu vme ... avx2 avx512f"), as lscpu prints it ("Flags: fpu vme ..."), space- or comma-separated.
Each is a plain statement of the CPU's flags: exit 0 (the tiny on a plan naming no engine version meets no known
failure). Also planned versions and hardware that are not versions: 2, naming the value given."""

from __future__ import annotations

from collections.abc import Callable

from selftests.support.bad_input import OK, UNUSABLE, Case, Run, Workspace

FLAGS = (
    "fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx"
)
FLAGS += " lm constant_tsc rep_good nopl xtopology cpuid pni pclmulqdq ssse3 fma cx16 sse4_1 sse4_2 movbe popcnt aes"
FLAGS += " xsave avx f16c rdrand hypervisor lahf_lm abm 3dnowprefetch bmi1 avx2 smep bmi2 erms avx512f avx512dq"
FLAGS += " avx512cd avx512bw avx512vl avx512_bf16 avx512_vnni"

SPELLINGS: list[tuple[str, str]] = [
    ("cpu-flags-proc-cpuinfo-line", f"flags\t\t: {FLAGS}"),
    ("cpu-flags-proc-cpuinfo-line-newline", f"flags\t\t: {FLAGS}\n"),
    ("cpu-flags-lscpu-line", f"Flags:                              {FLAGS}"),
    ("cpu-flags-lscpu-line-tight", f"Flags: {FLAGS}"),
    ("cpu-flags-space-separated", FLAGS),
    ("cpu-flags-comma-separated", FLAGS.replace(" ", ",")),
    ("cpu-flags-comma-space-separated", FLAGS.replace(" ", ", ")),
    ("cpu-flags-trailing-comma", "avx2,avx512f,"),
    ("cpu-flags-uppercase", "AVX2,AVX512F"),
    ("cpu-flags-tabs", "avx2\tavx512f\tavx512_bf16"),
    ("cpu-flags-two-given", "avx2 avx512f"),
    ("cpu-flags-avx2-only-as-lscpu", "Flags: fpu vme de pse sse sse2 avx avx2"),
]


def _expect(*args: str, named: tuple[str, ...] = ()) -> Callable[[Workspace], Run]:
    return lambda ws: Run(["expect", *args], named=named)


PLANS: list[tuple[str, list[str], tuple[str, ...]]] = [
    ("expect-vllm-not-a-version", ["--vllm", "latest!"], ("latest!",)),
    ("expect-transformers-empty", ["--transformers", ""], ("--transformers", "transformers")),
    ("expect-gpu-cc-not-a-number", ["--gpu-cc", "ampere"], ("ampere",)),
    ("expect-gpu-cc-three-parts", ["--gpu-cc", "12.0.1"], ("12.0.1",)),
    ("expect-cuda-not-a-version", ["--cuda", "x.y"], ("x.y",)),
    ("expect-env-without-equals", ["--env", "VLLM_USE_V1"], ("VLLM_USE_V1",)),
    ("expect-checkpoint-missing", ["--checkpoint", "/nonexistent/ckpt"], ("/nonexistent/ckpt",)),
]


def cases() -> list[Case]:
    found = [Case(name, _expect("--cpu-flags", flags), OK, "cpu-flags", twin=True) for name, flags in SPELLINGS]
    found += [Case(name, _expect(*args, named=named), UNUSABLE, "cpu-flags", twin=True) for name, args, named in PLANS]
    return found
