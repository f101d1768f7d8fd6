"""Quality against the base (issue 22): the INT4's next-token distributions over the tiny's own text, compared
with the BF16 base's from transformers' full logits; the figures are stored in the results' notes."""

from __future__ import annotations

import pytest

from qcompat.fixtures import fixtures_dir

# the corpus of the real checkpoint is not shipped yet: the tiny only
pytestmark = [pytest.mark.transformers, pytest.mark.usefixtures("tiny_only")]


@pytest.fixture(scope="module")
def texts() -> list[str]:
    lines = (fixtures_dir() / "tiny" / "sentences.txt").read_text().splitlines()
    return [line for line in lines if line.strip()]


def test_the_base_against_itself_diverges_nowhere(hf_base, texts):
    from qcompat.quality.figures import summarize
    from qcompat.quality.hf import positions

    figures = summarize(positions(hf_base, hf_base, texts))
    assert (figures.kld_mean, figures.kld_p99, figures.top1_agreement, figures.ppl_ratio) == (0.0, 0.0, 1.0, 1.0)


def test_int4_quality_against_the_bf16_base_is_recorded(hf_int4, hf_base, texts, notes):
    from qcompat.quality.figures import summarize
    from qcompat.quality.hf import positions

    figures = summarize(positions(hf_int4, hf_base, texts))
    notes.append(
        f"quality, HF INT4 vs HF BF16 base over {figures.tokens} tokens: perplexity {figures.ppl:.4f} vs"
        f" {figures.base_ppl:.4f} (ratio {figures.ppl_ratio:.4f}), KLD mean {figures.kld_mean:.2e} p99"
        f" {figures.kld_p99:.2e} nats, top-1 agreement {figures.top1_agreement:.1%}"
    )
    assert figures.kld_mean > 0, "the INT4's distributions equal the base's: the packed weights were not used"
