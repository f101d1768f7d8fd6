"""The quality figures from per-position numbers (engine-free), and `qcompat quality`'s answers before an engine."""

from __future__ import annotations

import json
import math

import pytest

from qcompat.cli import main
from qcompat.fixtures import fixtures_dir
from qcompat.quality.figures import Position, percentile, summarize

BASE = fixtures_dir() / "tiny" / "bf16"


def test_perplexity_is_the_exponent_of_the_mean_negative_log_probability():
    figures = summarize([Position(math.log(0.5), math.log(0.25), 0.0, True)] * 3)
    assert figures.ppl == pytest.approx(2.0) and figures.base_ppl == pytest.approx(4.0)
    assert figures.ppl_ratio == pytest.approx(0.5) and figures.tokens == 3


def test_divergence_and_agreement_are_averaged_over_positions():
    positions = [Position(0.0, 0.0, kld, agrees) for kld, agrees in [(0.1, True), (0.3, False), (0.2, True)]]
    figures = summarize(positions)
    assert figures.kld_mean == pytest.approx(0.2) and figures.kld_p99 == 0.3
    assert figures.top1_agreement == pytest.approx(2 / 3)


def test_p99_is_the_nearest_rank_value_not_an_interpolation():
    values = [float(v) for v in range(1, 201)]
    assert percentile(values, 99) == 198.0 and percentile(values, 100) == 200.0 and percentile([5.0], 99) == 5.0


def test_a_text_with_no_token_to_predict_is_refused():
    with pytest.raises(ValueError, match="no positions"):
        summarize([])


def test_quality_refuses_a_directory_that_is_not_a_checkpoint(tmp_path, capsys):
    assert main(["quality", str(tmp_path), "--base", str(BASE), "--json"]) == 2
    error = json.loads(capsys.readouterr().out)
    assert error["exit_code"] == 2 and str(tmp_path) in error["error"]


def test_quality_refuses_an_empty_corpus_naming_it(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n \n")
    assert main(["quality", str(BASE), "--base", str(BASE), "--corpus", str(corpus)]) == 2
    assert "corpus.txt: the corpus holds no text" in capsys.readouterr().err


def test_quality_without_torch_says_where_to_run_it(capsys):
    try:
        import torch  # noqa: F401
    except ImportError:
        assert main(["quality", str(BASE), "--base", str(BASE)]) == 2
        assert "inside the transformers stack's venv" in capsys.readouterr().err
    else:
        pytest.skip("not run: torch is installed here, so `qcompat quality` runs instead of refusing")
