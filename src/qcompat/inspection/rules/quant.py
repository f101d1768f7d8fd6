"""The quantization config: its settings, format, sources, `dynamic` and modules_in_block_to_quantize."""

from __future__ import annotations

from collections.abc import Iterator

from qcompat.checkpoint import quantconfig
from qcompat.inspection.context import Context
from qcompat.inspection.findings import Finding, error

FORMAT_NOTES = {
    "auto_round native": (
        ": auto-round's own format (no g_idx, attention kept by extra_config), which vLLM loads with INCConfig "
        "(0.32.0 quantization/inc/inc.py), not the GPTQ path the card was verified with"
    ),
}


def rules(ctx: Context) -> Iterator[Finding]:
    if ctx.quant is None:
        yield error(
            "quant.settings",
            "no quantization config (config.json quantization_config)",
            file="config.json",
            expected="a GPTQ quantization_config",
            found="none",
        )
        return
    declared, promised = ctx.declared, ctx.promised
    differing = [d for d in declared.differences(promised) if not (d == "format" and declared.method == "gptq")]
    if differing:
        note = FORMAT_NOTES.get(declared.format, "") if "format" in differing else ""
        yield error(
            "quant.settings",
            f"quantized another way than the profile promises ({', '.join(differing)}){note}",
            file=ctx.quant.source,
            expected=promised.label,
            found=declared.label,
        )
    if declared.method == "gptq" and declared.format != "gptq v1":
        consequence = (
            ": gptqmodel's v2 stores zero points as they are, v1 stores them minus one; vLLM's GPTQ loader never "
            "reads checkpoint_format (0.32.0) and transformers leaves v2 to gptqmodel, so a standard loader reads "
            "every weight one quantization step off, silently"
            if declared.format == "gptq v2"
            else ""
        )
        yield error(
            "quant.checkpoint_format",
            f"checkpoint_format {ctx.quant.get('checkpoint_format')} is not GPTQ v1{consequence}",
            file=ctx.quant.source,
            expected="gptq (v1) or absent",
            found=str(ctx.quant.get("checkpoint_format")),
        )
    for key, copies in quantconfig.disagreements(ctx.checkpoint.quant_sources).items():
        yield error(
            "quant.sources_agree",
            f"{key} differs between {', '.join(copies)}",
            file=ctx.quant.source,
            expected=f"{ctx.quant.source}: {copies.get(ctx.quant.source, '-')}",
            found="; ".join(f"{name}: {value}" for name, value in copies.items()),
        )
    if not declared.has_g_idx:
        return  # auto-round's own format names its blocks by block_name_to_quantize instead
    listed = ctx.quant.modules_in_block
    quantized = set(ctx.profile.quantization["quantized"])
    if listed is None:
        yield error(
            "quant.modules_in_block",
            "modules_in_block_to_quantize missing: transformers + gptqmodel load such a checkpoint with missing "
            "and unexpected keys and fail in generate (IndexError; seen with transformers 5.23, gptqmodel 7.7.0)"
            + "".join(f"; {note}" for note in ctx.known_issues(ctx.checkpoint, "modules_in_block_to_quantize")),
            file=ctx.quant.source,
            expected=str(sorted(quantized)),
            found="absent",
        )
    elif listed != quantized:
        yield error(
            "quant.modules_in_block",
            "modules_in_block_to_quantize is not the MLP linears",
            file=ctx.quant.source,
            expected=str(sorted(quantized)),
            found=str(sorted(listed)),
        )


def dynamic_rules(ctx: Context) -> Iterator[Finding]:
    if ctx.quant is None:
        return
    prefix = ctx.profile["text_prefix"]
    for layer in ctx.arch.layers:
        for module in ctx.profile["attention_linears"]:
            name = f"{prefix}.layers.{layer.index}.{module}"
            if f"{name}.weight" in ctx.checkpoint.tensors and not ctx.quant.excludes(name):
                yield error(
                    "quant.dynamic",
                    "attention linear kept BF16 but `dynamic` does not exclude it: engines will look for qweight",
                    file=ctx.quant.source,
                    tensor=name,
                    expected='a "-:<regex>" entry matching it',
                    found="none",
                )
        for module in ctx.profile.quantization["quantized"]:
            name = f"{prefix}.layers.{layer.index}.{module}"
            if ctx.quant.excludes(name):
                yield error(
                    "quant.dynamic",
                    "`dynamic` excludes a quantized MLP linear: engines will look for a BF16 weight",
                    file=ctx.quant.source,
                    tensor=name,
                    expected="not excluded",
                    found="excluded",
                )
