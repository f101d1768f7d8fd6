"""What real exporters write, judged: each holdout (fixtures/holdouts, made from the tiny base by auto-round
or gptqmodel, recipes in fixtures/holdouts/build.py) gets its exit code and a first finding naming the real
difference, with and without --numerics, in one screen of terminal report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from qcompat.cli import main
from selftests.support import holdouts
from selftests.support.planting import edit_quantization

SCREEN = 40
MLP = [["mlp.down_proj", "mlp.gate_proj", "mlp.up_proj"]]

# holdout -> (exit code, rule of the first finding, words it must contain)
EXPECTED = {
    "ar-native-format": (1, "quant.settings", "promises (format): auto-round's own format"),
    "ar-no-layer-config": (1, "attention.not_quantized", "the card keeps it BF16: 23 times"),
    "ar-asym": (1, "quant.settings", "found gptq v1 W4 g128 asym"),
    "ar-w8a16": (1, "quant.settings", "found gptq v1 W8 g128 sym"),
    "ar-w2a16": (1, "quant.settings", "found gptq v1 W2 g128 sym"),
    "ar-g64": (1, "quant.settings", "found gptq v1 W4 g64 sym"),
    "ar-f32": (1, "tensors.dtype", "expected BF16, found F32"),
    "gq-gptq": (1, "quant.modules_in_block", "transformers + gptqmodel"),
    "gq-desc-act": (1, "quant.settings", "found gptq v1 W4 g128 sym desc_act"),
    "gq-gptq-v2": (1, "quant.checkpoint_format", "checkpoint_format gptq_v2 is not GPTQ v1"),
}

# holdout -> every error, one per cause (with and without numerics): a tensor rule speaks only where it adds
# something to the scheme finding. Sizes speak where the bytes really differ (W8, F32, attention packed).
ERRORS = {
    "ar-native-format": ["quant.settings"],
    "ar-no-layer-config": [
        "attention.not_quantized",
        "quant.modules_in_block",
        "size.total_bytes",
        "size.element_count",
    ],
    "ar-asym": ["quant.settings"],
    "ar-w8a16": ["quant.settings", "size.total_bytes", "size.element_count"],
    "ar-w2a16": ["quant.settings"],
    "ar-g64": ["quant.settings"],
    "ar-f32": ["tensors.dtype", "tensors.dtype", "size.total_bytes"],  # kept tensors, then multimodal ones
    "gq-gptq": ["quant.modules_in_block"],
    "gq-desc-act": ["quant.settings", "quant.modules_in_block"],
    "gq-gptq-v2": ["quant.checkpoint_format", "quant.modules_in_block"],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("holdouts")
    return {name: holdouts.materialize(name, root / name) for name in holdouts.names()}


def test_every_holdout_has_an_expected_verdict():
    assert sorted(EXPECTED) == sorted(ERRORS) == holdouts.names()


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_each_cause_is_said_once_and_the_tensor_rules_add_only_what_it_does_not_say(name, built, capsys):
    main(["inspect", str(built[name]), "--json", "--numerics"])
    result = json.loads(capsys.readouterr().out)
    assert [g["rule"] for g in result["groups"] if g["severity"] == "error"] == ERRORS[name]


def test_holdouts_were_made_by_the_real_exporters():
    for name in holdouts.names():
        record = holdouts.manifest(name)
        tool = record["recipe"]["tool"]
        assert record["tools"][tool], f"{name}: no {tool} version recorded"


def _first_error(stdout: str) -> str:
    return next(line for line in stdout.splitlines() if line.startswith("ERROR"))


@pytest.mark.parametrize("numerics", [[], ["--numerics"]], ids=["header-only", "numerics"])
@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_holdout_verdict_names_the_real_difference_in_one_screen(name, numerics, built, capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "80")
    code, rule, words = EXPECTED[name]
    assert main(["inspect", str(built[name]), *numerics]) == code
    stdout = capsys.readouterr().out
    report = " ".join(stdout.split())
    first = report[report.index("ERROR") :]
    assert first.startswith(f"ERROR [{rule}]") and words in first.split("ERROR")[1], _first_error(stdout)
    assert "Traceback" not in stdout
    assert len(stdout.splitlines()) <= SCREEN, stdout


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_holdout_json_with_numerics_always_prints_its_result(name, built, capsys):
    code, rule, _ = EXPECTED[name]
    assert main(["inspect", str(built[name]), "--json", "--numerics"]) == code
    result = json.loads(capsys.readouterr().out)
    assert result["groups"][0]["rule"] == rule
    assert sum(g["count"] for g in result["groups"]) == len(result["findings"])


def test_gptq_v2_fails_on_checkpoint_format_with_modules_in_block_too(built, tmp_path, capsys):
    copy = holdouts.materialize("gq-gptq-v2", tmp_path / "v2")
    edit_quantization(copy, lambda q: q.update(modules_in_block_to_quantize=MLP))
    assert main(["inspect", str(copy), "--json"]) == 1
    result = json.loads(capsys.readouterr().out)
    assert [g["rule"] for g in result["groups"] if g["severity"] == "error"] == ["quant.checkpoint_format"]


def test_gptq_v2_zero_points_are_read_as_v2_not_called_asymmetric(built, capsys):
    main(["inspect", str(built["gq-gptq-v2"]), "--json", "--numerics"])
    result = json.loads(capsys.readouterr().out)
    assert result["numerics_modules"] == 18
    assert [f for f in result["findings"] if f["rule"].startswith("numerics.")] == []


def test_eight_bit_values_are_read_as_eight_bit(built, capsys):
    main(["inspect", str(built["ar-w8a16"]), "--json", "--numerics"])
    result = json.loads(capsys.readouterr().out)
    assert result["numerics_modules"] == 18
    assert [f for f in result["findings"] if f["rule"].startswith("numerics.")] == []


def test_summary_counts_kept_linears_by_their_dtype(built, capsys):
    main(["inspect", str(built["ar-f32"]), "--json"])
    result = json.loads(capsys.readouterr().out)
    assert result["kept_linears_by_dtype"] == {"F32": 23}
    assert result["packed_modules"] == 18


def test_missing_modules_in_block_names_the_registry_entry_only_where_it_applies(built, capsys):
    def modules_in_block_message(name: str) -> str:
        main(["inspect", str(built[name]), "--json"])
        result = json.loads(capsys.readouterr().out)
        (finding,) = [f for f in result["findings"] if f["rule"] == "quant.modules_in_block"]
        return finding["message"]

    assert "known issue vllm-modules-in-block-missing (vllm >=0 on cuda)" in modules_in_block_message(
        "ar-no-layer-config"
    )
    assert "vllm-modules-in-block-missing" not in modules_in_block_message("gq-gptq"), "MLP-only: q/k stay BF16"
