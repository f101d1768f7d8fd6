"""vLLM serves the checkpoint: GPTQ kernels for the MLP only, memorized output, parity with HF, the card's quick
test."""

from __future__ import annotations

import pytest

from qcompat.suite.card import recipes
from qcompat.suite.goldens import check_against_golden
from qcompat.suite.greedy import GREEDY

pytestmark = pytest.mark.vllm

QUICK_TEST_MAX_TOKENS = 16


def test_checkpoint_serves_as_the_registry_expects(serving, record_verdict):
    record_verdict(serving)


def test_server_loads_gptq_kernels_for_the_mlp_only(vllm_server, notes):
    from qcompat.engines import vllm

    log = vllm_server.log_text()
    kernels = vllm.gptq_kernels(log)
    assert kernels, "no GPTQ linear kernel line in the startup log: the checkpoint was not loaded as GPTQ"
    notes.append("vLLM GPTQ kernels: " + ", ".join(f"{k} for {m}" for m, k in kernels.items()))
    quantized = vllm.quantized_linears(log)
    assert quantized is not None, "vLLM logged no model structure although the harness set VLLM_LOG_MODEL_INSPECTION=1"
    assert quantized, "vLLM's model structure shows no quantized linear: the checkpoint was loaded unquantized"
    outside = vllm.outside_mlp(quantized)
    assert not outside, f"vLLM quantized linears outside the MLP: {', '.join(f'{p} ({quantized[p]})' for p in outside)}"


def test_server_computes_in_bfloat16_as_the_goldens_were_made(vllm_server):
    from qcompat.engines import vllm

    assert vllm.served_dtype(vllm_server.log_text()) == "bfloat16", "vLLM's engine config line names another dtype"


@pytest.mark.usefixtures("tiny_only")
def test_greedy_reproduces_the_memorized_sentences(vllm_greedy, memorized):
    produced = [g.prompt + g.text for g in vllm_greedy]
    assert produced == [sentence for _, sentence in memorized]


def test_greedy_matches_the_hf_int4_golden(pytestconfig, vllm_greedy, checkpoint_identity, vllm_stack, notes):
    check_against_golden(
        pytestconfig,
        vllm_greedy,
        engine="vllm-int4",
        golden_engine="hf-int4",
        identity=checkpoint_identity,
        stack=vllm_stack,
        max_new_tokens=GREEDY.max_new_tokens,
        top_k=GREEDY.top_k,
        notes=notes,
    )


def test_card_quick_test_returns_a_well_formed_chat_completion(vllm_api, served_model_name):
    from qcompat.engines import vllm

    quick = recipes()["quick_test"]
    response = vllm.chat(
        vllm_api,
        served_model_name,
        quick["messages"],
        QUICK_TEST_MAX_TOKENS,
        quick["temperature"],
        quick["top_p"],
        quick["top_k"],
    )
    choice = response.choices[0]
    assert response.model == served_model_name
    assert choice.message.role == "assistant" and isinstance(choice.message.content, str)
    assert choice.finish_reason in ("stop", "length")
    usage = response.usage
    assert usage.prompt_tokens > 0 and 0 < usage.completion_tokens <= QUICK_TEST_MAX_TOKENS
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
