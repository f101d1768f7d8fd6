"""The one greedy setting every engine runs with, so their results compare (parity between sessions, goldens)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GreedySettings:
    max_new_tokens: int = 24
    top_k: int = 5  # logprobs recorded per generated token


GREEDY = GreedySettings()
