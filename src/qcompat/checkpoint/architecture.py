"""What a Gemma 4 config.json says about the text model's layers, in either of its two forms.

The published checkpoint writes `global_head_dim` / `num_global_key_value_heads`; transformers >= 5.15
writes `per_layer_config` instead. Both are read into one per-layer description.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

ConfigForm = Literal["global_head_dim", "per_layer_config"]


class ConfigKeyMissing(Exception):
    """config.json lacks a key the architecture needs (a rule finding, not unreadable input)."""

    def __init__(self, key: str):
        self.key = key
        super().__init__(key)


@dataclass(frozen=True)
class LayerSpec:
    index: int
    kind: str  # "sliding_attention" or "full_attention"
    head_dim: int
    kv_heads: int
    has_v_proj: bool

    @property
    def is_full(self) -> bool:
        return self.kind == "full_attention"


@dataclass(frozen=True)
class TextArchitecture:
    hidden_size: int
    intermediate_size: int
    num_attention_heads: int
    vocab_size: int
    k_eq_v: bool
    config_form: ConfigForm
    layers: tuple[LayerSpec, ...]

    @property
    def num_hidden_layers(self) -> int:
        return len(self.layers)

    @property
    def heterogeneous_head_dims(self) -> bool:
        """Layers of different head sizes (256 sliding / 512 full): what vLLM without native Gemma 4 gets wrong."""
        return len({layer.head_dim for layer in self.layers}) > 1

    def sizes(self) -> dict[str, int]:
        """The values a profile's `sizes` section promises, as this config states them."""
        sliding = [layer for layer in self.layers if not layer.is_full]
        full = [layer for layer in self.layers if layer.is_full]
        found: dict[str, int] = {
            "hidden_size": self.hidden_size,
            "intermediate_size": self.intermediate_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "vocab_size": self.vocab_size,
        }
        if sliding:
            found["head_dim"] = sliding[0].head_dim
            found["num_key_value_heads"] = sliding[0].kv_heads
        if full:
            found["global_head_dim"] = full[0].head_dim
            found["num_global_key_value_heads"] = full[0].kv_heads
        return found


def text_config_of(config: dict[str, Any]) -> dict[str, Any]:
    text = config.get("text_config", config)
    if not isinstance(text, dict):
        raise ConfigKeyMissing("text_config")
    return text


def _required(text: dict[str, Any], key: str) -> Any:
    if key not in text:
        raise ConfigKeyMissing(f"text_config.{key}")
    return text[key]


def _overrides_per_layer(text: dict[str, Any], layer_types: list[str]) -> tuple[ConfigForm, dict[int, dict]]:
    if "per_layer_config" in text:
        raw = text["per_layer_config"] or {}
        if not isinstance(raw, dict):
            raise ConfigKeyMissing("text_config.per_layer_config (a mapping of layer index to overrides)")
        return "per_layer_config", {int(index): dict(values) for index, values in raw.items()}
    global_head_dim = _required(text, "global_head_dim")
    overrides: dict[str, Any] = {"head_dim": global_head_dim}
    if text.get("attention_k_eq_v", False) and text.get("num_global_key_value_heads") is not None:
        overrides["num_key_value_heads"] = text["num_global_key_value_heads"]
    full = {i: dict(overrides) for i, kind in enumerate(layer_types) if kind == "full_attention"}
    return "global_head_dim", full


def text_architecture(config: dict[str, Any]) -> TextArchitecture:
    text = text_config_of(config)
    num_layers = _required(text, "num_hidden_layers")
    layer_types = _required(text, "layer_types")
    if not isinstance(layer_types, list) or len(layer_types) != num_layers:
        raise ConfigKeyMissing(f"text_config.layer_types (a list of {num_layers} layer types)")
    head_dim = _required(text, "head_dim")
    kv_heads = _required(text, "num_key_value_heads")
    k_eq_v = bool(text.get("attention_k_eq_v", False))
    form, overrides = _overrides_per_layer(text, layer_types)
    layers = []
    for index, kind in enumerate(layer_types):
        own = overrides.get(index, {})
        full = kind == "full_attention"
        layers.append(
            LayerSpec(
                index=index,
                kind=kind,
                head_dim=int(own.get("head_dim", head_dim)),
                kv_heads=int(own.get("num_key_value_heads", kv_heads)),
                has_v_proj=not (k_eq_v and full),
            )
        )
    return TextArchitecture(
        hidden_size=int(_required(text, "hidden_size")),
        intermediate_size=int(_required(text, "intermediate_size")),
        num_attention_heads=int(_required(text, "num_attention_heads")),
        vocab_size=int(_required(text, "vocab_size")),
        k_eq_v=k_eq_v,
        config_form=form,
        layers=tuple(layers),
    )
