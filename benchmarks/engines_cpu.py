"""Benchmark the engines on the tiny INT4 on this machine (issue: engines on CPU).

Run inside a nox session's venv (it needs that stack):
    .nox/stable/bin/python benchmarks/engines_cpu.py vllm [--rounds 3]
    .nox/transformers/bin/python benchmarks/engines_cpu.py hf
vllm: server start until /health, the engine's own init time from its log, then greedy on the memorized
prompts sequentially vs concurrently, alternating, in one run. hf: model load and greedy time.
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from qcompat.suite.greedy import GREEDY

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qcompat.checkpoint.local import generation_eos_ids
from qcompat.fixtures import fixtures_dir, tiny_int4
from qcompat.suite.card import recipes


def prompts() -> list[str]:
    sentences = (fixtures_dir() / "tiny" / "sentences.txt").read_text().splitlines()
    return [" ".join(s.split()[:4]) for s in sentences if s.strip()]


def bench_vllm(rounds: int) -> None:
    from qcompat.engines import vllm
    from qcompat.engines.server import Server

    recipe = recipes()["serve_on_cpu"]
    with tempfile.TemporaryDirectory() as tmp:
        spec = vllm.server_spec(
            tiny_int4(), recipe["args"], {**recipe["env"], "VLLM_CACHE_ROOT": tmp}, Path(tmp) / "server.log"
        )
        with Server(spec, progress=lambda m: print(f"  {m}", flush=True)) as server:
            init = re.search(r"init engine .* took ([\d.]+) s", server.log_text())
            print(
                f"vllm: healthy after {server.startup_seconds:.1f} s; engine init (profile, KV cache, warmup) "
                f"{init.group(1) if init else '?'} s"
            )
            api, name = vllm.client(server.url), recipes()["serve"]["served_model_name"]
            texts = prompts()
            pairs = list(zip(texts, vllm.tokenize(api, name, texts)))
            eos = generation_eos_ids(tiny_int4())
            vllm.greedy(api, name, pairs, GREEDY.max_new_tokens, GREEDY.top_k, eos, concurrency=8)
            sequential, concurrent = [], []
            for _ in range(rounds):
                for concurrency, bucket in ((1, sequential), (8, concurrent)):
                    start = time.perf_counter()
                    vllm.greedy(api, name, pairs, GREEDY.max_new_tokens, GREEDY.top_k, eos, concurrency=concurrency)
                    bucket.append(time.perf_counter() - start)
            s, c = statistics.median(sequential), statistics.median(concurrent)
            print(
                f"vllm: {len(pairs)} prompts x {GREEDY.max_new_tokens} tokens: "
                f"sequential {s:.2f} s, concurrent {c:.2f} s "
                f"(medians of {rounds}, alternating): {s / c:.1f}x"
            )


def bench_hf() -> None:
    from qcompat.engines import hf

    start = time.perf_counter()
    loaded = hf.load(tiny_int4())
    load_s = time.perf_counter() - start
    start = time.perf_counter()
    hf.greedy(loaded, prompts(), GREEDY.max_new_tokens, GREEDY.top_k)
    print(
        f"hf: INT4 load {load_s:.1f} s; greedy {len(prompts())} prompts x <= {GREEDY.max_new_tokens} tokens "
        f"{time.perf_counter() - start:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("engine", choices=["vllm", "hf"])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    bench_vllm(args.rounds) if args.engine == "vllm" else bench_hf()


if __name__ == "__main__":
    main()
