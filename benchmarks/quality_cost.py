"""Benchmark what the quality checks add (issue 22): they reuse the servers and models the sessions load anyway,
so their cost is the requests and forward passes over the corpus, measured here next to the greedy work those
servers and models do already, alternating in one run.

Run inside a nox session's venv (it needs that stack):
    .nox/stable/bin/python benchmarks/quality_cost.py vllm [--rounds 5]
    .nox/transformers/bin/python benchmarks/quality_cost.py hf [--rounds 5]
vllm: one INT4 server; per round, the greedy prompts and the corpus's prompt_logprobs (the quality checks ask two
servers, the INT4 and the base). hf: the INT4 and the base loaded once; per round, greedy on both and the full-logit
positions over the corpus.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from qcompat.fixtures import tiny_bf16, tiny_int4
from qcompat.quality.corpus import opening, tiny_corpus
from qcompat.suite.greedy import GREEDY


def _timed(action) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def _report(rounds: dict[str, list[float]], extra: str) -> None:
    for name, seconds in rounds.items():
        print(f"{name}: median {statistics.median(seconds):.3f} s over {len(seconds)} rounds ({seconds})")
    greedy, quality = (statistics.median(v) for v in rounds.values())
    print(f"quality / greedy: {quality / greedy:.2f}; {extra}")


def bench_vllm(rounds: int) -> None:
    from qcompat.engines import vllm
    from qcompat.env.probe import probe
    from qcompat.suite.serving import QUALITY_TOP_K, serve

    prompts = [opening(text)[0] for text in tiny_corpus().texts]
    with tempfile.TemporaryDirectory() as logs:
        served = serve(tiny_int4(), prompts, probe(), Path(logs) / "server.log", keep=True)
        try:
            api, name = vllm.client(served.server.url), "gemma4-12b"
            pairs = list(zip(prompts, vllm.tokenize(api, name, prompts)))
            ids = vllm.tokenize(api, name, list(tiny_corpus().texts))
            found: dict[str, list[float]] = {"greedy": [], "quality (one server)": []}
            for _ in range(rounds):
                found["greedy"].append(
                    _timed(lambda: vllm.greedy(api, name, pairs, GREEDY.max_new_tokens, GREEDY.top_k, set()))
                )
                found["quality (one server)"].append(
                    _timed(lambda: [vllm.prompt_logprobs(api, name, i, QUALITY_TOP_K) for i in ids])
                )
        finally:
            served.server.stop()
    per_session = 2 * statistics.median(found["quality (one server)"])
    _report(found, f"the quality checks add about {per_session:.2f} s per vLLM session (two servers)")


def bench_hf(rounds: int) -> None:
    from qcompat.engines import hf
    from qcompat.quality.hf import positions

    int4, base = hf.load(tiny_int4()), hf.load(tiny_bf16())
    prompts = [opening(text)[0] for text in tiny_corpus().texts]
    texts = list(tiny_corpus().texts)
    found: dict[str, list[float]] = {"greedy (int4 and base)": [], "quality": []}
    for _ in range(rounds):
        found["greedy (int4 and base)"].append(
            _timed(lambda: [hf.greedy(m, prompts, GREEDY.max_new_tokens, GREEDY.top_k) for m in (int4, base)])
        )
        found["quality"].append(_timed(lambda: positions(int4, base, texts)))
    _report(found, f"the quality check adds about {statistics.median(found['quality']):.2f} s per session")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("engine", choices=["vllm", "hf"])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    (bench_vllm if args.engine == "vllm" else bench_hf)(args.rounds)


if __name__ == "__main__":
    main()
