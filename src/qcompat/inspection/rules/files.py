"""The files: the shard index, the total size and element count, and the warnings (config dtype, F16 scales,
per-layer config form, files the engines need)."""

from __future__ import annotations

from collections.abc import Iterator

from qcompat import inputs
from qcompat.errors import InputError
from qcompat.inspection.context import Context
from qcompat.inspection.findings import Finding, error, warning


def index_rules(ctx: Context) -> Iterator[Finding]:
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


def size_rules(ctx: Context) -> Iterator[Finding]:
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


def warnings(ctx: Context) -> Iterator[Finding]:
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
    path = ctx.checkpoint.root / filename
    if not inputs.exists(path):  # a remote checkpoint lists files it did not download
        return not key
    text = inputs.read_text(path, "engine file")  # a FIFO, a folder or a file this user may not read: exit 2
    if not key:
        return True
    try:
        loaded = inputs.parse_json(path, text)
    except InputError:  # not JSON: it provides no key (the rule's finding says so)
        return False
    return isinstance(loaded, dict) and key in loaded
