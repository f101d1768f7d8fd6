"""The fixed texts quality is measured over: the tiny's own sentences for the tiny family; for any other checkpoint,
public-domain prose and chat turns rendered through its own template (fixtures/quality/corpus.yaml)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from qcompat import inputs
from qcompat.errors import QcompatError
from qcompat.fixtures import fixtures_dir

TINY_CORPUS = fixtures_dir() / "tiny" / "sentences.txt"
CHECKPOINT_CORPUS = fixtures_dir() / "quality" / "corpus.yaml"
OPENING_WORDS = 4  # the tiny's sentences are prompted with their first words, by the greedy and the task checks


def opening(sentence: str) -> tuple[str, str]:
    """A memorized sentence's first OPENING_WORDS words (the prompt), and the rest (what must follow)."""
    words = sentence.split()
    return " ".join(words[:OPENING_WORDS]), " ".join(words[OPENING_WORDS:])


@dataclass(frozen=True)
class Corpus:
    name: str
    texts: tuple[str, ...]

    @property
    def digest(self) -> str:
        return hashlib.sha256("\n".join(self.texts).encode()).hexdigest()


def lines_corpus(path: Path) -> Corpus:
    """One text per non-empty line."""
    texts = tuple(line for line in inputs.read_text(path, "corpus").splitlines() if line.strip())
    if not texts:
        raise QcompatError(f"{path}: the corpus holds no text")
    return Corpus(path.name, texts)


def tiny_corpus() -> Corpus:
    return lines_corpus(TINY_CORPUS)


def checkpoint_corpus(checkpoint: Path, path: Path = CHECKPOINT_CORPUS) -> Corpus:
    """The prose as written, then each chat whole (assistant turns included) through the checkpoint's template,
    without the BOS the engines add themselves. Needs transformers (any engine stack has it)."""
    data = inputs.load_yaml(path, dict, "corpus")
    if not isinstance(data.get("prose"), list) or not isinstance(data.get("chats"), list):
        raise QcompatError(f"{path}: a corpus file holds `prose` (a list of texts) and `chats` (a list of messages)")
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(checkpoint)
        chats = [tokenizer.apply_chat_template(chat["messages"], tokenize=False) for chat in data["chats"]]
    except Exception as exc:  # noqa: BLE001  (a tokenizer or template that fails: jinja, OSError, KeyError, ...)
        raise QcompatError(f"{checkpoint}: its chat template does not render {path.name}'s chats ({exc!r})") from None
    bos = tokenizer.bos_token or ""
    return Corpus(path.name, tuple(data["prose"]) + tuple(text.removeprefix(bos) for text in chats))


def corpus_for(checkpoint: Path, is_tiny: bool, path: Path | None = None) -> Corpus:
    """The corpus a checkpoint is measured over: `path` (YAML: prose and chats; else one text per line), or by
    default the tiny's sentences for the tiny family, fixtures/quality/corpus.yaml for any other."""
    if path is None:
        return tiny_corpus() if is_tiny else checkpoint_corpus(checkpoint)
    return checkpoint_corpus(checkpoint, path) if path.suffix in (".yaml", ".yml") else lines_corpus(path)
