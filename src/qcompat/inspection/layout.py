"""Rules: a checkpoint's configs and tensor headers held against its profile. Never reads tensor data.
Each family lives in inspection/rules/; RULES names every rule id and what it holds."""

from __future__ import annotations

from collections.abc import Callable

from qcompat.checkpoint import quantconfig, scheme
from qcompat.checkpoint.local import Checkpoint
from qcompat.inspection.context import Context
from qcompat.inspection.findings import Finding
from qcompat.inspection.profile import Profile
from qcompat.inspection.rules import config, files, quant, tensors

RULES = {
    "config.architecture": "architectures and model_type are the profile's",
    "config.text_config": "config.json states what the rules need to know about the layers",
    "config.sizes": "hidden, intermediate, heads, head dims, kv heads, layers and vocab are the profile's sizes",
    "config.layer_types": "full attention exactly on the profile's layers, with the global head dim and kv heads",
    "config.tied_embeddings": "embeddings are tied: tie_word_embeddings and no lm_head tensor",
    "quant.settings": "quant_method, bits, group size, sym and desc_act are the profile's",
    "quant.checkpoint_format": "GPTQ v1 (checkpoint_format absent or gptq): zero points stored minus one",
    "quant.matches_tensors": "bits and group size in the config agree with the packed tensors' shapes",
    "quant.sources_agree": "config.json and quantization_config.json / quantize_config.json say the same",
    "quant.dynamic": "`dynamic` excludes every attention linear from quantization and no MLP linear",
    "quant.modules_in_block": "modules_in_block_to_quantize lists exactly the quantized MLP linears",
    "tensors.missing": "every tensor the profile expects is present",
    "tensors.unexpected": "no tensor the profile does not expect",
    "tensors.dtype": "kept tensors BF16; qweight, qzeros, g_idx I32; scales in an accepted dtype",
    "tensors.shape": "kept tensors have the shapes the config implies",
    "gptq.packing_shape": "qweight [in/8,out], qzeros [in/g,out/8], scales [in/g,out], g_idx [in]",
    "attention.not_quantized": "attention projections stay unquantized",
    "attention.v_proj_full": "full-attention layers have no v_proj (values reuse keys)",
    "attention.v_proj_sliding": "sliding-attention layers have a v_proj",
    "mlp.quantized": "every MLP linear is GPTQ-packed",
    "index.consistent": "the sharded index names each tensor's real shard, and lists every stored tensor",
    "size.total_bytes": "the weights' total size is in the profile's range",
    "size.element_count": "the element count (packed I32 words + values, as the Hub counts) is in range",
    "warn.config_dtype": "config dtype float16 (Gemma in fp16 risks overflow: serve with --dtype bfloat16)",
    "warn.scales_f16": "F16 scales differ from the published I32/BF16 layout",
    "warn.per_layer_config": "per_layer_config form: older transformers and vLLM cannot read it",
    "warn.engine_files": "tokenizer, chat template or processor files the engines need are missing",
}

KnownIssues = Callable[[Checkpoint, str], list[str]]


def check_layout(checkpoint: Checkpoint, profile: Profile, known_issues: KnownIssues | None = None) -> list[Finding]:
    return run_layout(checkpoint, profile, known_issues).findings


def run_layout(checkpoint: Checkpoint, profile: Profile, known_issues: KnownIssues | None = None) -> Context:
    """Every rule, the scheme the checkpoint declares first; the context keeps which modules are packed as declared.
    known_issues(checkpoint, key): the registry's lines for a checkpoint lacking a config key (none if not given)."""
    quant_config = quantconfig.effective(checkpoint.quant_sources)
    ctx = Context(
        checkpoint, profile, quant=quant_config, declared=scheme.declared(quant_config) if quant_config else None
    )
    if known_issues is not None:
        ctx.known_issues = known_issues
    ctx.findings += quant.rules(ctx)
    ctx.findings += config.rules(ctx)
    if ctx.arch is not None:
        ctx.findings += tensors.rules(ctx)
        ctx.findings += quant.dynamic_rules(ctx)
    ctx.findings += files.index_rules(ctx)
    ctx.findings += files.size_rules(ctx)
    ctx.findings += files.warnings(ctx)
    return ctx
