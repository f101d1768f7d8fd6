"""Per-position figures from top-k log probabilities (vLLM's `prompt_logprobs`), where full logits are not to be had.

Perplexity and top-1 agreement are exact: the token that came and the likeliest one are always in the answer. The
KL divergence is that of both distributions coarsened to the base's k likeliest tokens and one bin for the rest (a
lower bound of the whole one), a token missing from the checkpoint's k taken at its k-th log probability (the most
it can be). record.top_k_approximation names this in the results.
"""

from __future__ import annotations

import math

from qcompat.engines.vllm import TopLogprobs
from qcompat.quality.figures import Position

SMALLEST_MASS = 1e-12  # the rest's mass, where rounding leaves none


def _likeliest(step: TopLogprobs) -> int:
    return min(step, key=lambda token: step[token][1])


def coarse_kld(ours: TopLogprobs, theirs: TopLogprobs, k: int) -> float:
    floor = min(logprob for logprob, rank in ours.values() if rank <= k)
    kept = [(logprob, ours.get(token, (floor, 0))[0]) for token, (logprob, rank) in theirs.items() if rank <= k]
    kld = sum(math.exp(base) * (base - checkpoint) for base, checkpoint in kept)
    base_rest = max(1 - sum(math.exp(base) for base, _ in kept), SMALLEST_MASS)
    checkpoint_rest = max(1 - sum(math.exp(checkpoint) for _, checkpoint in kept), SMALLEST_MASS)
    return max(kld + base_rest * math.log(base_rest / checkpoint_rest), 0.0)  # >= 0 but for rounding


def positions(checkpoint: list[TopLogprobs], base: list[TopLogprobs], following: list[int], k: int) -> list[Position]:
    """One text: `following` holds the token each position was followed by (the prompt's ids after the first)."""
    if not len(checkpoint) == len(base) == len(following):
        raise ValueError(
            f"{len(checkpoint)} and {len(base)} positions of log probabilities for {len(following)} tokens"
        )
    found = []
    for ours, theirs, token in zip(checkpoint, base, following):
        if token not in ours or token not in theirs:
            raise ValueError(f"the log probability of token {token}, which came next, is not in the answer")
        agrees = _likeliest(ours) == _likeliest(theirs)
        found.append(Position(ours[token][0], theirs[token][0], coarse_kld(ours, theirs, k), agrees))
    return found
