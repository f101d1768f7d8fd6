"""The greedy prompts: the tiny's memorized sentence openings; for any other checkpoint, fixed instruction
prompts (fixtures/prompts/instruct.yaml) rendered through its own chat template, judged by parity alone."""

from __future__ import annotations

from pathlib import Path

from qcompat.fixtures import fixtures_dir

INSTRUCT = fixtures_dir() / "prompts" / "instruct.yaml"


def instruct_prompts(checkpoint: Path) -> list[str]:
    import yaml
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(checkpoint)
    conversations = yaml.safe_load(INSTRUCT.read_text())["prompts"]
    rendered = [
        tokenizer.apply_chat_template(c["messages"], tokenize=False, add_generation_prompt=True) for c in conversations
    ]
    bos = tokenizer.bos_token or ""
    return [text.removeprefix(bos) for text in rendered]  # both engines add BOS themselves when they tokenize
