"""Task accuracy through lm-evaluation-harness (lm-eval, in the transformers and stable stacks): a local task made
from the tiny's memorized sentences (offline, no Hub), or the harness's own tasks (GSM8K on the runner), run
against a vLLM server (`local-completions`) or a model transformers has loaded (`HFLM` around it)."""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from qcompat.errors import QcompatError
from qcompat.quality.corpus import Corpus, opening

MEMORIZED_TASK = "qcompat_memorized"
STRIP = ["^\\s+", "\\s+$"]  # exact match up to the space before and after


@dataclass(frozen=True)
class TaskSpec:
    name: str  # the harness's task name
    metric: str  # the key of lm-eval's results: "exact_match,none", "exact_match,strict-match"
    include: Path | None = None  # a folder of task YAML the harness is to read
    num_fewshot: int | None = None
    limit: int | None = None


GSM8K = TaskSpec("gsm8k", "exact_match,strict-match", num_fewshot=5)  # as vLLM's GSM8K configs run it
# transformers generates one item at a time: on the 12B, all 1,319 GSM8K items for the INT4 and the base would take
# hours of a nightly (an estimate: ~150 generated tokens an item at tens of tokens a second); vLLM batches them.
HF_LIMIT = 100


def for_transformers(task: TaskSpec) -> TaskSpec:
    """The task as the transformers checks run it: a harness task not otherwise limited is cut to HF_LIMIT items."""
    import dataclasses

    return task if task.include or task.limit else dataclasses.replace(task, limit=HF_LIMIT)


def memorized_task(corpus: Corpus, folder: Path) -> TaskSpec:
    """Each sentence's first words as the prompt, the rest as the target, greedy until the line ends: a
    generate-until task of lm-eval's own schema, its data a JSON-lines file beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    data = folder / "memorized.jsonl"
    rows = [{"prompt": prompt, "target": rest} for prompt, rest in map(opening, corpus.texts) if rest]
    data.write_text("".join(json.dumps(row) + "\n" for row in rows))
    config = {
        "task": MEMORIZED_TASK,
        "dataset_path": "json",
        "dataset_kwargs": {"data_files": {"test": str(data)}},
        "test_split": "test",
        "output_type": "generate_until",
        "doc_to_text": "{{prompt}}",
        "doc_to_target": "{{target}}",
        "generation_kwargs": {"until": ["\n"], "do_sample": False, "temperature": 0.0, "max_gen_toks": 48},
        "metric_list": [
            {"metric": "exact_match", "aggregation": "mean", "higher_is_better": True, "regexes_to_ignore": STRIP}
        ],
        "metadata": {"version": 1},
    }
    (folder / f"{MEMORIZED_TASK}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    return TaskSpec(MEMORIZED_TASK, "exact_match,none", include=folder)


def vllm_model_args(url: str, served_name: str, tokenizer: Path) -> dict[str, Any]:
    """lm-eval's `local-completions` against the session's server: text prompts, the checkpoint's own tokenizer
    read from its folder (the harness counts tokens with it), one request at a time."""
    return {
        "model": served_name,
        "base_url": f"{url}/v1/completions",
        "tokenizer_backend": "huggingface",
        "tokenizer": str(tokenizer),
        "tokenized_requests": False,
        "num_concurrent": 1,
        "max_retries": 1,
    }


def accuracy(model: Any, task: TaskSpec, model_args: dict[str, Any] | None = None) -> tuple[float, int]:
    """(accuracy, how many items) of `model`: a name lm-eval knows ("local-completions") with its arguments, or an
    lm-eval model instance."""
    import lm_eval

    found = lm_eval.simple_evaluate(
        model=model,
        model_args=model_args,
        tasks=[task.name],
        task_manager=_task_manager(str(task.include) if task.include else None),
        num_fewshot=task.num_fewshot,
        limit=task.limit,
        log_samples=False,
    )
    try:
        score = found["results"][task.name][task.metric]
        count = found["n-samples"][task.name]["effective"]
    except (KeyError, TypeError):
        raise QcompatError(f"lm-eval gave no {task.metric} for {task.name}: {str(found)[:300]}") from None
    return float(score), int(count)


@functools.cache
def _task_manager(include: str | None):
    """lm-eval's index of every task it ships, and the include folder's: 5-7 s to build, so once per folder."""
    from lm_eval.tasks import TaskManager

    return TaskManager(include_path=include)


def prefetch(task: TaskSpec) -> None:
    """Build the task once with the Hub reachable, so the suite (run with the Hub offline) finds its data cached;
    nothing in a stack without lm-eval, whose task checks say so."""
    import importlib.util

    if importlib.util.find_spec("lm_eval") is None:
        return
    from lm_eval.tasks import get_task_dict

    get_task_dict([task.name], _task_manager(str(task.include) if task.include else None))


def hf_model(loaded) -> Any:
    """lm-eval's HFLM around a model transformers has already loaded (qcompat.engines.hf.Loaded)."""
    from lm_eval.models.huggingface import HFLM

    return HFLM(pretrained=loaded.model, tokenizer=loaded.tokenizer, batch_size=1)
