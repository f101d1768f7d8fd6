"""Rules: a checkpoint's configs and tensor headers held against its profile. Never reads tensor data."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field

from qcompat import quantconfig, scheme
from qcompat.architecture import ConfigKeyMissing, LayerSpec, TextArchitecture, text_architecture, text_config_of
from qcompat.checkpoint import Checkpoint
from qcompat.findings import Finding, error, warning
from qcompat.profile import Profile

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

GPTQ_PARTS = ("qweight", "qzeros", "scales", "g_idx")
FORMAT_NOTES = {
    "auto_round native": (
        ": auto-round's own format (no g_idx, attention kept by extra_config), which vLLM loads with INCConfig "
        "(0.32.0 quantization/inc/inc.py), not the GPTQ path the card was verified with"
    ),
}


@dataclass
class Context:
    checkpoint: Checkpoint
    profile: Profile
    arch: TextArchitecture | None = None
    quant: quantconfig.QuantConfig | None = None
    declared: scheme.Scheme | None = None
    findings: list[Finding] = field(default_factory=list)
    claimed: set[str] = field(default_factory=set)
    gptq_modules: list[tuple[str, int, int]] = field(default_factory=list)  # packed as declared: (module, out, in)
    misfits: list[str] = field(default_factory=list)  # packed otherwise than declared, or missing a part
    by_module: dict[str, list[str]] = field(default_factory=dict)  # "a.b.q_proj" -> its tensors

    def __post_init__(self) -> None:
        for name in self.checkpoint.tensors:
            self.by_module.setdefault(name.rsplit(".", 1)[0], []).append(name)

    @functools.cached_property
    def promised(self) -> scheme.Scheme:
        return scheme.promised(self.profile.quantization)

    @functools.cached_property
    def packing(self) -> scheme.Scheme:
        """The scheme the packed tensors are read with: the declared one, the promised one where it is unusable."""
        declared, promised = self.declared, self.promised
        if declared is None:
            return promised
        return scheme.Scheme(
            declared.method,
            declared.format,
            declared.packed_bits or promised.bits,
            declared.group or promised.group_size,
            declared.sym,
            declared.desc_act,
        )

    def where(self, tensor: str = "") -> dict[str, str]:
        record = self.checkpoint.tensors.get(tensor)
        return {"file": record.file if record else self.checkpoint.weights_file_of(), "tensor": tensor}


def check_layout(checkpoint: Checkpoint, profile: Profile) -> list[Finding]:
    return run_layout(checkpoint, profile).findings


def run_layout(checkpoint: Checkpoint, profile: Profile) -> Context:
    """Every rule, the scheme the checkpoint declares first; the context keeps which modules are packed as declared."""
    quant = quantconfig.effective(checkpoint.quant_sources)
    ctx = Context(checkpoint, profile, quant=quant, declared=scheme.declared(quant) if quant else None)
    ctx.findings += _quant_config_rules(ctx)
    ctx.findings += _config_rules(ctx)
    if ctx.arch is not None:
        ctx.findings += _tensor_rules(ctx)
        ctx.findings += _dynamic_rules(ctx)
    ctx.findings += _index_rules(ctx)
    ctx.findings += _size_rules(ctx)
    ctx.findings += _warnings(ctx)
    return ctx


def _config_rules(ctx: Context) -> Iterator[Finding]:
    config, profile = ctx.checkpoint.config, ctx.profile
    where = {"file": "config.json"}
    architectures = config.get("architectures") or []
    if architectures != profile["architectures"] or config.get("model_type") != profile["model_type"]:
        yield error(
            "config.architecture",
            "not the profile's architecture",
            expected=f"{profile['architectures']} / {profile['model_type']}",
            found=f"{architectures} / {config.get('model_type')}",
            **where,
        )
    try:
        ctx.arch = text_architecture(config)
    except ConfigKeyMissing as missing:
        yield error("config.text_config", f"config.json lacks {missing.key}", **where)
        return
    found = ctx.arch.sizes()
    for key, wanted in profile.size_values.items():
        if found.get(key) != wanted:
            yield error(
                "config.sizes",
                f"{key} differs from the profile",
                expected=str(wanted),
                found=str(found.get(key)),
                **where,
            )
    yield from _layer_type_rules(ctx.arch, profile, where)
    tied = text_config_of(config).get("tie_word_embeddings", config.get("tie_word_embeddings"))
    if profile["tie_word_embeddings"] and (tied is False or "lm_head.weight" in ctx.checkpoint.tensors):
        yield error(
            "config.tied_embeddings",
            "embeddings must be tied (lm_head shares embed_tokens)",
            expected="tie_word_embeddings true, no lm_head.weight",
            found=f"tie_word_embeddings {tied}, lm_head.weight "
            f"{'present' if 'lm_head.weight' in ctx.checkpoint.tensors else 'absent'}",
            **where,
        )


def _layer_type_rules(arch: TextArchitecture, profile: Profile, where: dict[str, str]) -> Iterator[Finding]:
    every = profile["full_attention_every"]
    sizes = profile.size_values
    for layer in arch.layers:
        full = (layer.index + 1) % every == 0
        expected = (
            ("full_attention", sizes["global_head_dim"], sizes["num_global_key_value_heads"])
            if full
            else ("sliding_attention", sizes["head_dim"], sizes["num_key_value_heads"])
        )
        found = (layer.kind, layer.head_dim, layer.kv_heads)
        if found != expected:
            yield error(
                "config.layer_types",
                "a layer's attention type / head_dim / kv heads differ from the profile's pattern",
                expected=" / ".join(map(str, expected)),
                found=" / ".join(map(str, found)),
                tensor=f"{profile['text_prefix']}.layers.{layer.index}",
                **where,
            )
    if profile["attention_k_eq_v"] and not arch.k_eq_v:
        yield error(
            "config.layer_types",
            "full layers must reuse keys as values",
            expected="attention_k_eq_v true",
            found="false",
            **where,
        )


def _quant_config_rules(ctx: Context) -> Iterator[Finding]:
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
            + "".join(f"; {note}" for note in _known_issues_lacking(ctx, "modules_in_block_to_quantize")),
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


def _known_issues_lacking(ctx: Context, key: str) -> list[str]:
    """The registry's entries this checkpoint meets for lacking `key`, each with its engine and versions."""
    from qcompat.registry import checkpoint_facts, default_registry

    facts = checkpoint_facts(ctx.checkpoint)
    return [
        f"known issue {issue.id} ({issue.component} {issue.affected.get(issue.component, '')} on "
        f"{issue.hardware.get('device', 'any device')}): {issue.title}"
        for issue in default_registry().issues.values()
        if issue.checkpoint.get("lacks") == key and issue.checkpoint_matches(facts)
    ]


def _representation(tensors: dict, module: str) -> str:
    if f"{module}.qweight" in tensors:
        return "gptq"
    if f"{module}.weight" in tensors:
        return "dense"
    return "absent"


def _stored_as(ctx: Context, parts: list[str]) -> str:
    """A module's tensors by their last name and dtype: 'qweight I32, scales F16'."""
    return ", ".join(f"{part.rsplit('.', 1)[-1]} {ctx.checkpoint.tensors[part].dtype}" for part in sorted(parts))


def _module_tensors(ctx: Context, module: str) -> list[str]:
    return ctx.by_module.get(module, [])


def _kept(ctx: Context, name: str, shape: tuple[int, ...]) -> Iterator[Finding]:
    record = ctx.checkpoint.tensors.get(name)
    if record is None:
        yield error(
            "tensors.missing",
            "expected tensor is missing",
            expected=f"{ctx.profile['kept_dtype']} {list(shape)}",
            found="absent",
            **ctx.where(name),
        )
        return
    ctx.claimed.add(name)
    if record.dtype != ctx.profile["kept_dtype"]:
        yield error(
            "tensors.dtype",
            "kept tensor has the wrong dtype",
            expected=ctx.profile["kept_dtype"],
            found=record.dtype,
            **ctx.where(name),
        )
    if record.shape != shape:
        yield error(
            "tensors.shape",
            "kept tensor has the wrong shape",
            expected=str(list(shape)),
            found=str(list(record.shape)),
            **ctx.where(name),
        )


def _packed_shapes(bits: int, group: int, out_features: int, in_features: int) -> dict[str, tuple[int, ...]]:
    return {
        "qweight": (in_features * bits // 32, out_features),
        "qzeros": (in_features // group, out_features * bits // 32),
        "scales": (in_features // group, out_features),
        "g_idx": (in_features,),
    }


def _implied_packing(found: dict[str, tuple[int, ...]], out_features: int, in_features: int) -> tuple[int, int] | None:
    """(bits, group) the stored shapes are consistently packed with, if any."""
    qweight, scales = found.get("qweight"), found.get("scales")
    if not qweight or not scales or len(qweight) != 2 or len(scales) != 2 or not qweight[0] or not scales[0]:
        return None
    bits, group = 32 * qweight[0] // in_features, in_features // scales[0]
    if bits not in scheme.SUPPORTED_BITS or not group:
        return None
    expected = _packed_shapes(bits, group, out_features, in_features)
    return (bits, group) if all(expected[part] == shape for part, shape in found.items()) else None


def _gptq(ctx: Context, module: str, out_features: int, in_features: int) -> Iterator[Finding]:
    packing, tensors = ctx.packing, ctx.checkpoint.tensors
    quant = ctx.profile.quantization
    parts = GPTQ_PARTS if packing.has_g_idx else GPTQ_PARTS[:3]
    expected = _packed_shapes(packing.bits, packing.group_size, out_features, in_features)
    found = {}
    for part in parts:
        name = f"{module}.{part}"
        record = tensors.get(name)
        if record is None:
            yield error(
                "tensors.missing",
                f"GPTQ {part} is missing",
                expected=str(list(expected[part])),
                found="absent",
                **ctx.where(name),
            )
            continue
        found[part] = record.shape
        dtypes = list(quant["scales_dtypes"]) if part == "scales" else [quant["packed_dtype"]]
        if record.dtype not in dtypes:
            yield error(
                "tensors.dtype",
                f"GPTQ {part} has the wrong dtype",
                expected=" or ".join(dtypes),
                found=record.dtype,
                **ctx.where(name),
            )
    misfit = [part for part, shape in found.items() if shape != expected[part]]
    if not misfit and len(found) == len(parts):
        ctx.gptq_modules.append((module, out_features, in_features))
        return
    if "qweight" in found:
        ctx.misfits.append(module)
    if not misfit:
        return
    implied = _implied_packing(found, out_features, in_features)
    if implied and ctx.declared is not None:
        yield error(
            "quant.matches_tensors",
            f"the config declares W{ctx.declared.bits} g{ctx.declared.group_size} but the tensors are packed "
            f"W{implied[0]} g{implied[1]}",
            expected=f"W{implied[0]} g{implied[1]} in the config",
            found=f"W{ctx.declared.bits} g{ctx.declared.group_size}",
            **ctx.where(f"{module}.qweight"),
        )
        return
    for part in misfit:
        yield error(
            "gptq.packing_shape",
            f"GPTQ {part} is not packed as W{packing.bits} g{packing.group_size} of its linear",
            expected=str(list(expected[part])),
            found=str(list(found[part])),
            **ctx.where(f"{module}.{part}"),
        )


def _layer_rules(ctx: Context, layer: LayerSpec) -> Iterator[Finding]:
    profile, tensors = ctx.profile, ctx.checkpoint.tensors
    prefix = f"{profile['text_prefix']}.layers.{layer.index}."
    scope = {**ctx.arch.sizes(), "head_dim": layer.head_dim, "kv_heads": layer.kv_heads}
    attention = set(profile["attention_linears"])
    for suffix, expression in profile["layer_tensors"].items():
        module = suffix.removesuffix(".weight")
        name = prefix + suffix
        if module not in attention:
            yield from _kept(ctx, name, profile.shape(expression, scope))
            continue
        full_name = prefix + module
        found = _representation(tensors, full_name)
        parts = _module_tensors(ctx, full_name)
        if module.endswith("v_proj") and not layer.has_v_proj:
            if found != "absent":
                ctx.claimed.update(parts)
                yield error(
                    "attention.v_proj_full",
                    "a full-attention layer has a v_proj (k_eq_v: values reuse keys)",
                    expected="no v_proj",
                    found=_stored_as(ctx, parts),
                    **ctx.where(parts[0]),
                )
            continue
        if module.endswith("v_proj") and found == "absent":
            yield error(
                "attention.v_proj_sliding",
                "a sliding-attention layer has no v_proj",
                expected=f"{name} {profile['kept_dtype']}",
                found="absent",
                **ctx.where(name),
            )
            continue
        if found == "gptq":
            ctx.claimed.update(parts)
            yield error(
                "attention.not_quantized",
                "attention projection is quantized; the card keeps it BF16",
                expected=f"weight {profile['kept_dtype']}",
                found=_stored_as(ctx, parts),
                **ctx.where(f"{full_name}.qweight"),
            )
            continue
        yield from _kept(ctx, name, profile.shape(expression, scope))
    for module, (out_expr, in_expr) in profile.quantization["quantized"].items():
        full_name = prefix + module
        found = _representation(tensors, full_name)
        parts = _module_tensors(ctx, full_name)
        if found == "dense":
            ctx.claimed.update(parts)
            yield error(
                "mlp.quantized",
                "MLP linear left unquantized",
                expected=f"qweight, qzeros, scales (GPTQ {ctx.profile.quantization['bits']}-bit)",
                found=_stored_as(ctx, parts),
                **ctx.where(f"{full_name}.weight"),
            )
            continue
        ctx.claimed.update(parts)
        yield from _gptq(ctx, full_name, scope[out_expr], scope[in_expr])


def _tensor_rules(ctx: Context) -> Iterator[Finding]:
    for layer in ctx.arch.layers:
        yield from _layer_rules(ctx, layer)
    scope = ctx.arch.sizes()
    for name, expression in ctx.profile["model_tensors"].items():
        yield from _kept(ctx, name, ctx.profile.shape(expression, scope))
    prefixes = tuple(ctx.profile["multimodal_prefixes"])
    for name, record in ctx.checkpoint.tensors.items():
        if name.startswith(prefixes):
            ctx.claimed.add(name)
            if record.dtype != ctx.profile["kept_dtype"]:
                yield error(
                    "tensors.dtype",
                    "multimodal embedder tensor has the wrong dtype",
                    expected=ctx.profile["kept_dtype"],
                    found=record.dtype,
                    **ctx.where(name),
                )
    for name in ctx.checkpoint.tensors:
        if name not in ctx.claimed and name != "lm_head.weight":
            yield error(
                "tensors.unexpected",
                "tensor the profile does not expect",
                expected="absent",
                found=f"{ctx.checkpoint.tensors[name].dtype} {list(ctx.checkpoint.tensors[name].shape)}",
                **ctx.where(name),
            )


def _dynamic_rules(ctx: Context) -> Iterator[Finding]:
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


def _index_rules(ctx: Context) -> Iterator[Finding]:
    weight_map = ctx.checkpoint.weight_map
    if weight_map is None:
        return
    where = {"file": "model.safetensors.index.json"}
    for name, shard in weight_map.items():
        record = ctx.checkpoint.tensors.get(name)
        if record is None or record.file != shard:
            yield error(
                "index.consistent",
                "indexed tensor is not in the shard the index names",
                tensor=name,
                expected=shard,
                found=record.file if record else "in no shard",
                **where,
            )
    for name, record in ctx.checkpoint.tensors.items():
        if name not in weight_map:
            yield error(
                "index.consistent",
                "stored tensor missing from the index",
                tensor=name,
                expected="listed",
                found=f"only in {record.file}",
                **where,
            )


def _size_rules(ctx: Context) -> Iterator[Finding]:
    where = {"file": ctx.checkpoint.weights_file_of()}
    total = ctx.checkpoint.total_bytes
    low, high = ctx.profile.range_of("total_bytes")
    if not low <= total <= high:
        yield error(
            "size.total_bytes",
            "total size of the weights out of range",
            expected=f"{low:,.0f}-{high:,.0f} bytes",
            found=f"{total:,} bytes",
            **where,
        )
    count = sum(ctx.checkpoint.elements_by_dtype().values())
    low, high = ctx.profile.range_of("element_count")
    if not low <= count <= high:
        yield error(
            "size.element_count",
            "element count out of range",
            expected=f"{low:,.0f}-{high:,.0f}",
            found=f"{count:,}",
            **where,
        )


def _config_dtype(config: dict) -> str | None:
    for source in (config, config.get("text_config") or {}):
        for key in ("dtype", "torch_dtype"):
            if source.get(key):
                return str(source[key])
    return None


def _engine_files_missing(ctx: Context) -> Iterator[str]:
    for purpose, candidates in ctx.profile["engine_files"].items():
        if not any(_file_provides(ctx, candidate) for candidate in candidates):
            yield f"{purpose} ({' or '.join(candidates)})"


def _file_provides(ctx: Context, candidate: str) -> bool:
    filename, _, key = candidate.partition(":")
    if filename not in ctx.checkpoint.files:
        return False
    if not key:
        return True
    try:
        return key in json.loads((ctx.checkpoint.root / filename).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False


def _warnings(ctx: Context) -> Iterator[Finding]:
    dtype = _config_dtype(ctx.checkpoint.config)
    if dtype == "float16":
        yield warning(
            "warn.config_dtype",
            "config dtype is float16 (auto-round rewrites it); Gemma in fp16 risks overflow: "
            "serve with --dtype bfloat16",
            file="config.json",
            expected="bfloat16",
            found=dtype,
        )
    f16_scales = [r.name for r in ctx.checkpoint.tensors.values() if r.name.endswith(".scales") and r.dtype == "F16"]
    if f16_scales:
        yield warning(
            "warn.scales_f16",
            f"{len(f16_scales)} scales tensors are F16: differs from the published I32/BF16 layout",
            file=ctx.checkpoint.tensors[f16_scales[0]].file,
            expected="BF16",
            found="F16",
        )
    if ctx.arch is not None and ctx.arch.config_form == "per_layer_config":
        yield warning(
            "warn.per_layer_config",
            "config uses the per_layer_config form: transformers < 5.15 and older vLLM cannot read it",
            file="config.json",
            expected="global_head_dim / num_global_key_value_heads",
            found="per_layer_config",
        )
    for missing in _engine_files_missing(ctx):
        yield warning(
            "warn.engine_files",
            "a file the engines need is missing",
            file=str(ctx.checkpoint.root),
            expected=missing,
            found="absent",
        )
