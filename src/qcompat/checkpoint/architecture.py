"""What a Gemma 4 config.json says about the text model's layers, in either of its two forms.

The published checkpoint writes `global_head_dim` / `num_global_key_value_heads`; transformers >= 5.15
writes `per_layer_config` instead. Both are read into one per-layer description.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from qcompat.errors import QcompatError
from qcompat.inputs import shown

ConfigForm = Literal["global_head_dim", "per_layer_config"]


class ConfigKeyMissing(Exception):
    """config.json lacks a key the architecture needs (a rule finding, not unreadable input)."""

    def __init__(self, key: str):
        self.key = key
        super().__init__(key)


class ConfigValueInvalid(QcompatError):
    """config.json states a key the architecture needs with a value it cannot be (unusable input, exit 2)."""

    def __init__(self, key: str, expected: str, found: Any):
        super().__init__(f"config.json: text_config.{key} must be {expected}, found {shown(found)}")


def _size(value: Any, key: str) -> int:
    """A count or dimension: a JSON integer above zero (not a float, a string or a boolean)."""
    if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
        raise ConfigValueInvalid(key, "a positive integer", value)
    return value


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
        overrides = {}
        for index, values in raw.items():
            if not index.isdecimal():
                raise ConfigValueInvalid("per_layer_config", "keyed by layer index (0, 1, ...)", index)
            if not isinstance(values, dict):
                raise ConfigValueInvalid(f"per_layer_config.{index}", "an object of overrides", values)
            overrides[int(index)] = dict(values)
        return "per_layer_config", overrides
    global_head_dim = _required(text, "global_head_dim")
    overrides: dict[str, Any] = {"head_dim": global_head_dim}
    if text.get("attention_k_eq_v", False) and text.get("num_global_key_value_heads") is not None:
        overrides["num_key_value_heads"] = text["num_global_key_value_heads"]
    full = {i: dict(overrides) for i, kind in enumerate(layer_types) if kind == "full_attention"}
    return "global_head_dim", full


def _layer_size(own: dict[str, Any], key: str, default: int, form: ConfigForm, index: int) -> int:
    """A layer's own value where it has one (checked, named by where it came from), else the global one."""
    if key not in own:
        return default
    return _size(own[key], _override_key(form, index, key))


def _override_key(form: ConfigForm, index: int, key: str) -> str:
    """Where a layer's value came from: its per_layer_config entry, or the global_head_dim form's key."""
    if form == "per_layer_config":
        return f"per_layer_config.{index}.{key} (or {key})"
    return {"head_dim": "global_head_dim", "num_key_value_heads": "num_global_key_value_heads"}[key]


def text_architecture(config: dict[str, Any]) -> TextArchitecture:
    text = text_config_of(config)
    num_layers = _size(_required(text, "num_hidden_layers"), "num_hidden_layers")
    layer_types = _required(text, "layer_types")
    if not isinstance(layer_types, list) or len(layer_types) != num_layers:
        raise ConfigKeyMissing(f"text_config.layer_types (a list of {num_layers} layer types)")
    head_dim = _size(_required(text, "head_dim"), "head_dim")
    kv_heads = _size(_required(text, "num_key_value_heads"), "num_key_value_heads")
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
                head_dim=_layer_size(own, "head_dim", head_dim, form, index),
                kv_heads=_layer_size(own, "num_key_value_heads", kv_heads, form, index),
                has_v_proj=not (k_eq_v and full),
            )
        )
    return TextArchitecture(
        hidden_size=_size(_required(text, "hidden_size"), "hidden_size"),
        intermediate_size=_size(_required(text, "intermediate_size"), "intermediate_size"),
        num_attention_heads=_size(_required(text, "num_attention_heads"), "num_attention_heads"),
        vocab_size=_size(_required(text, "vocab_size"), "vocab_size"),
        k_eq_v=k_eq_v,
        config_form=form,
        layers=tuple(layers),
    )
