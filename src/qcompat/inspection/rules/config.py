"""config.json against the profile: architecture, sizes, which layers are full attention, tied embeddings."""

from __future__ import annotations

from collections.abc import Iterator

from qcompat.checkpoint.architecture import (
    ConfigKeyMissing,
    TextArchitecture,
    text_architecture,
    text_config_of,
)
from qcompat.inspection.context import Context
from qcompat.inspection.findings import Finding, error
from qcompat.inspection.profile import Profile


def rules(ctx: Context) -> Iterator[Finding]:
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
