"""transformers runner: load a checkpoint (INT4 through gptqmodel, BF16 directly) and greedy-generate.

Imports torch and transformers when called; only the `transformers` nox session has them.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qcompat.engines.greedy import Greedy


@dataclass
class Loaded:
    model: Any
    tokenizer: Any
    eos_ids: set[int]

    def module_classes(self, suffixes: tuple[str, ...]) -> dict[str, str]:
        """name -> class name of every module whose name ends with one of `suffixes`."""
        return {name: type(module).__name__ for name, module in self.model.named_modules() if name.endswith(suffixes)}

    def class_counts(self, suffixes: tuple[str, ...]) -> Counter[str]:
        return Counter(self.module_classes(suffixes).values())


def load(path: Path, dtype: str = "bfloat16", device: str = "cpu") -> Loaded:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype), device_map=device)
    model.eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    eos = model.generation_config.eos_token_id
    eos_ids = set(eos if isinstance(eos, list) else [eos]) if eos is not None else {tokenizer.eos_token_id}
    return Loaded(model, tokenizer, eos_ids)


def greedy(loaded: Loaded, prompts: list[str], max_new_tokens: int, top_k: int) -> list[Greedy]:
    """One prompt at a time (no padding), stopping at eos; the eos token itself is not reported."""
    import torch

    results = []
    for prompt in prompts:
        ids = loaded.tokenizer(prompt, return_tensors="pt").input_ids.to(loaded.model.device)
        with torch.no_grad():
            out = loaded.model.generate(
                ids,
                attention_mask=torch.ones_like(ids),
                max_new_tokens=max_new_tokens,
                do_sample=False,
                eos_token_id=sorted(loaded.eos_ids),
                output_logits=True,
                return_dict_in_generate=True,
            )
        generated = out.sequences[0, ids.shape[1] :].tolist()
        steps = []
        for logits in out.logits:
            logprobs = torch.log_softmax(logits[0].float(), dim=-1)
            values, indices = logprobs.topk(top_k)
            steps.append([(int(i), float(v)) for i, v in zip(indices, values)])
        if generated and generated[-1] in loaded.eos_ids:
            generated, steps = generated[:-1], steps[:-1]
        text = loaded.tokenizer.decode(generated, skip_special_tokens=True)
        results.append(Greedy(prompt, ids[0].tolist(), generated, text, steps))
    return results
