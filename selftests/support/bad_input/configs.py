"""Class 1: config.json and the quantization configs with wrong types, odd values and broken structure.

Expected exits, by kind of damage:
- the file is not JSON (NaN, Infinity, a BOM, a duplicate key, an empty file, too deep) or its top level is not an
  object: 2, naming the file;
- a size the architecture computes with (hidden_size, head_dim, ...) given as a string, boolean, null, float or list:
  2 (qcompat cannot compute the layout from it; int("abc") is no answer);
- a size of the right type but out of range (0, negative, 10**30), a section of the wrong type or missing
  (text_config, layer_types, per_layer_config), a quantization value of the wrong type or value (bits "4", sym 1):
  1 or 2 (the project reports a config that lacks what the architecture needs as a finding; refusing it is as
  honest), never 0;
- a section qcompat does not read (vision_config a list, extra_config a list): 0 or 1.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from selftests.support.bad_input import NONCONFORMING, ODD, UNUSABLE, Case, Run, Workspace
from selftests.support.planting import edit_config, edit_quantization

DELETE = object()


def _inspect(change: Callable[[Path], None], named: str = "config.json") -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        root = ws.checkpoint()
        change(root)
        return Run(["inspect", str(root)], named=(named, str(root / named)))

    return build


def _text(key: str, value: Any) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        def edit(config: dict) -> None:
            if value is DELETE:
                config["text_config"].pop(key, None)
            else:
                config["text_config"][key] = value

        edit_config(root, edit)

    return change


def _top(key: str, value: Any) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        def edit(config: dict) -> None:
            if value is DELETE:
                config.pop(key, None)
            else:
                config[key] = value

        edit_config(root, edit)

    return change


def _raw_config(text: str | bytes) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        path = root / "config.json"
        path.write_bytes(text if isinstance(text, bytes) else text.encode())

    return change


def _config_text(root: Path) -> str:
    return (root / "config.json").read_text()


def _duplicate_hidden_size(root: Path) -> None:
    text = _config_text(root)
    (root / "config.json").write_text(
        text.replace('"hidden_size": 256,', '"hidden_size": 256,\n    "hidden_size": 512,')
    )


def _bom(root: Path) -> None:
    (root / "config.json").write_bytes(b"\xef\xbb\xbf" + (root / "config.json").read_bytes())


def _deep(depth: int) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        text = _config_text(root).rstrip().removesuffix("}")
        (root / "config.json").write_text(text + ', "deep": ' + "[" * depth + "]" * depth + "}")

    return change


def _per_layer(overrides: Any) -> Callable[[Path], None]:
    """The transformers >= 5.15 form: per_layer_config instead of global_head_dim."""

    def change(root: Path) -> None:
        def edit(config: dict) -> None:
            text = config["text_config"]
            text.pop("global_head_dim", None)
            text.pop("num_global_key_value_heads", None)
            text["per_layer_config"] = overrides

        edit_config(root, edit)

    return change


FULL = {"head_dim": 128, "num_key_value_heads": 1}

# (id, change, expected, why)
SIZES: list[tuple[str, Callable[[Path], None], tuple[int, ...], str]] = [
    ("config-hidden_size-string", _text("hidden_size", "abc"), UNUSABLE, ""),
    ("config-hidden_size-nan", _text("hidden_size", float("nan")), UNUSABLE, "NaN is not JSON"),
    ("config-hidden_size-infinity", _text("hidden_size", float("inf")), UNUSABLE, "Infinity is not JSON"),
    ("config-hidden_size-minus-infinity", _text("hidden_size", float("-inf")), UNUSABLE, "-Infinity is not JSON"),
    ("config-hidden_size-null", _text("hidden_size", None), UNUSABLE, ""),
    ("config-hidden_size-float", _text("hidden_size", 1.5), UNUSABLE, ""),
    ("config-hidden_size-digit-string", _text("hidden_size", "4096"), UNUSABLE, "a string, not a number"),
    ("config-hidden_size-own-value-as-string", _text("hidden_size", "256"), UNUSABLE, "a string, not a number"),
    ("config-hidden_size-true", _text("hidden_size", True), UNUSABLE, "a boolean, not a number"),
    ("config-hidden_size-list", _text("hidden_size", [256]), UNUSABLE, ""),
    ("config-hidden_size-object", _text("hidden_size", {"value": 256}), UNUSABLE, ""),
    ("config-hidden_size-huge-int", _text("hidden_size", 10**30), NONCONFORMING, "an integer, out of range"),
    ("config-hidden_size-negative", _text("hidden_size", -256), NONCONFORMING, "an integer, out of range"),
    ("config-hidden_size-zero", _text("hidden_size", 0), NONCONFORMING, "an integer, out of range"),
    ("config-hidden_size-missing", _text("hidden_size", DELETE), NONCONFORMING, "a missing key is a finding"),
    ("config-head_dim-list", _text("head_dim", [64]), UNUSABLE, ""),
    ("config-head_dim-string", _text("head_dim", "64"), UNUSABLE, ""),
    ("config-head_dim-null", _text("head_dim", None), UNUSABLE, ""),
    ("config-head_dim-float", _text("head_dim", 64.5), UNUSABLE, ""),
    ("config-global_head_dim-string", _text("global_head_dim", "abc"), UNUSABLE, ""),
    ("config-num_hidden_layers-zero", _text("num_hidden_layers", 0), NONCONFORMING, "out of range"),
    ("config-num_hidden_layers-negative", _text("num_hidden_layers", -1), NONCONFORMING, "out of range"),
    ("config-num_hidden_layers-string", _text("num_hidden_layers", "6"), UNUSABLE, ""),
    ("config-num_hidden_layers-huge-int", _text("num_hidden_layers", 10**30), NONCONFORMING, "out of range"),
    ("config-intermediate_size-string", _text("intermediate_size", "abc"), UNUSABLE, ""),
    ("config-vocab_size-null", _text("vocab_size", None), UNUSABLE, ""),
    ("config-num_attention_heads-zero", _text("num_attention_heads", 0), NONCONFORMING, "out of range"),
    ("config-num_attention_heads-bool", _text("num_attention_heads", False), UNUSABLE, ""),
    ("config-num_key_value_heads-string", _text("num_key_value_heads", "1"), UNUSABLE, ""),
    ("config-num_key_value_heads-negative", _text("num_key_value_heads", -1), NONCONFORMING, "out of range"),
    ("config-layer_types-string", _text("layer_types", "sliding_attention"), NONCONFORMING, "structure"),
    ("config-layer_types-unknown-kind", _text("layer_types", ["banana"] * 6), NONCONFORMING, ""),
    ("config-layer_types-ints", _text("layer_types", [0, 0, 0, 0, 0, 1]), NONCONFORMING, ""),
    ("config-layer_types-null", _text("layer_types", None), NONCONFORMING, ""),
    ("config-per_layer_config-valid", _per_layer({"5": FULL}), ODD, "the newer form: a warning, not an error"),
    ("config-per_layer_config-non-numeric-key", _per_layer({"five": FULL}), UNUSABLE, "int('five')"),
    ("config-per_layer_config-int-value", _per_layer({"5": 5}), UNUSABLE, "dict(5)"),
    ("config-per_layer_config-list-value", _per_layer({"5": [128, 1]}), UNUSABLE, ""),
    ("config-per_layer_config-string-value", _per_layer({"5": "full"}), UNUSABLE, ""),
    ("config-per_layer_config-head_dim-string", _per_layer({"5": {"head_dim": "abc"}}), UNUSABLE, ""),
    ("config-per_layer_config-list", _per_layer([FULL]), NONCONFORMING, "structure"),
    ("config-per_layer_config-negative-key", _per_layer({"-1": FULL}), NONCONFORMING, "no layer -1"),
    ("config-per_layer_config-key-out-of-range", _per_layer({"99": FULL}), NONCONFORMING, "no layer 99"),
    ("config-per_layer_config-float-key", _per_layer({"5.0": FULL}), UNUSABLE, ""),
    ("config-text_config-missing", _top("text_config", DELETE), NONCONFORMING, "structure"),
    ("config-text_config-list", _top("text_config", [{}]), NONCONFORMING, "structure"),
    ("config-text_config-string", _top("text_config", "gemma"), NONCONFORMING, "structure"),
    ("config-text_config-null", _top("text_config", None), NONCONFORMING, "structure"),
    ("config-text_config-empty", _top("text_config", {}), NONCONFORMING, "structure"),
    ("config-architectures-string", _top("architectures", "Gemma4UnifiedForConditionalGeneration"), NONCONFORMING, ""),
    ("config-architectures-null", _top("architectures", None), NONCONFORMING, ""),
    ("config-model_type-number", _top("model_type", 4), NONCONFORMING, ""),
    ("config-tie_word_embeddings-string", _top("tie_word_embeddings", "yes"), ODD, "truthy to every loader"),
    ("config-vision_config-list", _top("vision_config", [1, 2]), ODD, "qcompat does not read vision_config"),
    ("config-audio_config-string", _top("audio_config", "none"), ODD, "qcompat does not read audio_config"),
    ("config-rope_parameters-list", _text("rope_parameters", []), ODD, "qcompat does not read rope_parameters"),
    ("config-dtype-number", _top("dtype", 16), ODD, "a dtype it cannot name is at most a finding"),
    ("config-top-level-list", _raw_config("[1, 2, 3]"), UNUSABLE, ""),
    ("config-top-level-string", _raw_config('"config"'), UNUSABLE, ""),
    ("config-top-level-null", _raw_config("null"), UNUSABLE, ""),
    ("config-empty-object", _raw_config("{}"), NONCONFORMING, "readable, lacks everything"),
    ("config-empty-file", _raw_config(""), UNUSABLE, ""),
    ("config-not-utf8", _raw_config(b'{"model_type": "\xff\xfe"}'), UNUSABLE, ""),
    ("config-utf8-bom", _bom, UNUSABLE, "JSON has no byte-order mark; transformers' json.loads refuses it"),
    ("config-duplicate-key", _duplicate_hidden_size, UNUSABLE, "which hidden_size is meant?"),
    ("config-nested-100000-deep", _deep(100_000), UNUSABLE, ""),
    ("config-trailing-garbage", lambda root: _raw_config(_config_text(root) + "}}")(root), UNUSABLE, ""),
    ("config-nul-bytes", lambda root: _raw_config(_config_text(root) + "\0\0")(root), UNUSABLE, ""),
]


def _quant(key: str, value: Any) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        def edit(quant: dict) -> None:
            if value is DELETE:
                quant.pop(key, None)
            else:
                quant[key] = value

        edit_quantization(root, edit)

    return change


def _quant_in_config(value: Any) -> Callable[[Path], None]:
    return _top("quantization_config", value)


def _side_file(name: str, text: str) -> Callable[[Path], None]:
    def change(root: Path) -> None:
        (root / name).write_text(text)

    return change


def _quantize_config_with(key: str, value: Any) -> Callable[[Path], None]:
    """A third copy, quantize_config.json (what older GPTQ loaders read), differing in one key."""

    def change(root: Path) -> None:
        data = json.loads((root / "quantization_config.json").read_text())
        data[key] = value
        (root / "quantize_config.json").write_text(json.dumps(data))

    return change


QUANT: list[tuple[str, Callable[[Path], None], tuple[int, ...], str, str]] = [
    # (id, change, expected, why, the file the error names)
    ("quant-bits-string", _quant("bits", "4"), NONCONFORMING, "a string, not a number", "config.json"),
    ("quant-bits-3", _quant("bits", 3), (1,), "valid GPTQ, not the card's 4 bits", "config.json"),
    ("quant-bits-null", _quant("bits", None), NONCONFORMING, "", "config.json"),
    ("quant-bits-true", _quant("bits", True), NONCONFORMING, "", "config.json"),
    ("quant-bits-nan", _quant("bits", float("nan")), UNUSABLE, "NaN is not JSON", "config.json"),
    ("quant-group_size-string", _quant("group_size", "128"), NONCONFORMING, "", "config.json"),
    ("quant-group_size-minus-one", _quant("group_size", -1), (1,), "per-channel, not the card's 128", "config.json"),
    ("quant-group_size-zero", _quant("group_size", 0), NONCONFORMING, "", "config.json"),
    ("quant-sym-string", _quant("sym", "true"), NONCONFORMING, "", "config.json"),
    ("quant-sym-one", _quant("sym", 1), ODD, "1 reads as True in every Python loader", "config.json"),
    ("quant-quant_method-number", _quant("quant_method", 5), NONCONFORMING, "", "config.json"),
    ("quant-quant_method-list", _quant("quant_method", ["gptq"]), NONCONFORMING, "", "config.json"),
    ("quant-desc_act-string", _quant("desc_act", "false"), NONCONFORMING, "", "config.json"),
    ("quant-missing-bits", _quant("bits", DELETE), NONCONFORMING, "", "config.json"),
    ("quant-missing-group_size", _quant("group_size", DELETE), NONCONFORMING, "", "config.json"),
    ("quant-missing-quant_method", _quant("quant_method", DELETE), NONCONFORMING, "", "config.json"),
    ("quant-extra_config-list", _quant("extra_config", [{"bits": 16}]), ODD, "GPTQ loaders ignore it", "config.json"),
    ("quant-extra_config-string", _quant("extra_config", "none"), ODD, "GPTQ loaders ignore it", "config.json"),
    ("quant-extra_config-int-value", _quant("extra_config", {".*o_proj": 16}), ODD, "", "config.json"),
    ("quant-extra_config-bad-regex", _quant("extra_config", {"(": {"bits": 16}}), ODD, "", "config.json"),
    ("quant-dynamic-list", _quant("dynamic", ["-:.*q_proj.*"]), NONCONFORMING, "", "config.json"),
    ("quant-dynamic-bad-regex", _quant("dynamic", {"-:(": {}}), NONCONFORMING, "", "config.json"),
    ("quant-modules_in_block-string", _quant("modules_in_block_to_quantize", "mlp"), NONCONFORMING, "", "config.json"),
    ("quant-modules_in_block-ints", _quant("modules_in_block_to_quantize", [[1, 2]]), NONCONFORMING, "", "config.json"),
    ("quant-empty", lambda root: edit_quantization(root, dict.clear), NONCONFORMING, "", "config.json"),
    ("quant-in-config-list", _quant_in_config([{"bits": 4}]), NONCONFORMING, "", "config.json"),
    ("quant-in-config-string", _quant_in_config("gptq"), NONCONFORMING, "", "config.json"),
    ("quant-file-list", _side_file("quantization_config.json", "[4, 128]"), UNUSABLE, "", "quantization_config.json"),
    (
        "quant-file-not-json",
        _side_file("quantization_config.json", "bits: 4"),
        UNUSABLE,
        "",
        "quantization_config.json",
    ),
    ("quant-file-empty", _side_file("quantization_config.json", ""), UNUSABLE, "", "quantization_config.json"),
    (
        "quant-file-infinity",
        _side_file("quantization_config.json", '{"bits": Infinity}'),
        UNUSABLE,
        "",
        "quantization_config.json",
    ),
    ("quantize_config-list", _side_file("quantize_config.json", "[]"), UNUSABLE, "", "quantize_config.json"),
    ("quantize_config-bits-string", _quantize_config_with("bits", "4"), NONCONFORMING, "", "quantize_config.json"),
    ("quantize_config-sym-string", _quantize_config_with("sym", "true"), NONCONFORMING, "", "quantize_config.json"),
]


def cases() -> list[Case]:
    found = [Case(name, _inspect(change), expect, "config", why, twin=True) for name, change, expect, why in SIZES]
    found += [
        Case(name, _inspect(change, named), expect, "quant", why, twin=True)
        for name, change, expect, why, named in QUANT
    ]
    return found
