"""What an engine's greedy run gives for one prompt: the prompt's and generated token ids, the text, and the top
logprobs of each generated step (what parity and goldens compare)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Greedy:
    prompt: str
    prompt_ids: list[int]
    generated_ids: list[int]
    text: str
    top_logprobs: list[list[tuple[int, float]]]  # per generated step: (token id, logprob), best first

    def chosen_logprob(self, step: int) -> float | None:
        token = self.generated_ids[step]
        return next((lp for tid, lp in self.top_logprobs[step] if tid == token), None)

    def top_ids(self, step: int) -> set[int]:
        return {tid for tid, _ in self.top_logprobs[step]} if step < len(self.top_logprobs) else set()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Greedy:
        steps = [[(int(tid), float(lp)) for tid, lp in step] for step in data["top_logprobs"]]
        return cls(data["prompt"], list(data["prompt_ids"]), list(data["generated_ids"]), data["text"], steps)
