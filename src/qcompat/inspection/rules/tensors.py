"""The tensors' headers: each expected tensor present with its dtype and shape, GPTQ packing of the MLP,
attention kept dense, nothing unexpected."""

from __future__ import annotations

from collections.abc import Iterator

from qcompat.checkpoint import scheme
from qcompat.checkpoint.architecture import (
    LayerSpec,
)
from qcompat.inspection.context import Context
from qcompat.inspection.findings import Finding, error

GPTQ_PARTS = ("qweight", "qzeros", "scales", "g_idx")


def rules(ctx: Context) -> Iterator[Finding]:
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
