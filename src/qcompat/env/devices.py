"""The devices a stack can name, apart from the probe, so the command line offers them without importing it.

Besides an NVIDIA GPU (cuda) and the CPU, vLLM serves on accelerators a stack here is never probed on but a plan
or a log can name: on them neither CUDA nor CPU conditions apply (the host CPU's flags do not pick their kernels).
"""

ACCELERATORS = ("rocm", "xpu", "tpu", "hpu", "neuron")
STACK_DEVICES = ("cpu", "cuda", *ACCELERATORS)
