"""A profile's YAML checked against its schema once, when it is read: the rules behind never meet a wrong type, and
a profile that is not one is a single error naming the file, the key, what it must be and what was found."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from qcompat.errors import InputError
from qcompat.inputs import shown

RANGE_KEYS = ("total_bytes", "element_count")
LAYER_NAMES = ("kv_heads",)  # a shape may name the layer's own KV head count (rules/tensors.py sets it per layer)
Check = Callable[[Any], bool]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    """A finite number; YAML 1.1 reads 10.8e9 (no sign in the exponent) as a string, so a numeric string counts."""
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            return False
    return _is_int(value) or (isinstance(value, float) and math.isfinite(value))


def _text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _texts(value: Any) -> bool:
    return isinstance(value, list) and all(_text(item) for item in value)


def _shape(value: Any) -> bool:
    """[out, in]: each an integer or a product of size names ("num_attention_heads*head_dim")."""
    return isinstance(value, list) and all(_is_int(term) or _text(term) for term in value)


def _shapes(value: Any) -> bool:
    return isinstance(value, dict) and all(_text(key) and _shape(shape) for key, shape in value.items())


def _mapping_of(check: Check) -> Check:
    return lambda value: isinstance(value, dict) and all(_text(k) and check(v) for k, v in value.items())


SECTIONS: dict[str, tuple[Check, str]] = {
    "name": (_text, "a name"),
    "architectures": (_texts, "a list of architecture names"),
    "model_type": (_text, "a model type"),
    "text_prefix": (_text, "a tensor-name prefix"),
    "full_attention_every": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "attention_k_eq_v": (lambda v: isinstance(v, bool), "true or false"),
    "tie_word_embeddings": (lambda v: isinstance(v, bool), "true or false"),
    "quantization": (lambda v: isinstance(v, dict), "a mapping"),
    "kept_dtype": (_text, "a dtype name"),
    "layer_tensors": (_shapes, "a mapping of tensor name to shape"),
    "attention_linears": (_texts, "a list of module names"),
    "model_tensors": (_shapes, "a mapping of tensor name to shape"),
    "multimodal_prefixes": (_texts, "a list of prefixes"),
    "engine_files": (_mapping_of(_texts), "a mapping of role to a list of file names"),
    "sizes": (lambda v: isinstance(v, dict), "a mapping of size name to value"),
}
QUANTIZATION: dict[str, tuple[Check, str]] = {
    "quant_method": (_text, "a method name"),
    "bits": (lambda v: _is_int(v) and v > 0, "a positive integer"),
    "group_size": (_is_int, "an integer"),
    "sym": (lambda v: isinstance(v, bool), "true or false"),
    "desc_act": (lambda v: isinstance(v, bool), "true or false"),
    "packed_dtype": (_text, "a dtype name"),
    "scales_dtypes": (_mapping_of(lambda v: isinstance(v, str)), "a mapping of dtype to what it means"),
    "quantized": (_shapes, "a mapping of module name to shape"),
}


METRICS = ("kld_mean", "kld_p99", "ppl_ratio", "top1_agreement", "recovery")  # qcompat.quality.limits.METRICS


def _is_metric_map(value: Any) -> bool:
    return isinstance(value, dict) and all(k in METRICS and _is_number(v) and float(v) >= 0 for k, v in value.items())


def _validate_quality(path: Path, quality: Any, variants: set[str]) -> None:
    if not isinstance(quality, dict) or not isinstance(quality.get("limits"), dict):
        raise _refuse(path, "quality", "a mapping with limits and tolerance", quality)
    tolerance = quality.get("tolerance")
    if not _is_metric_map(tolerance) or set(tolerance) != set(METRICS):
        raise _refuse(path, "quality.tolerance", f"a number for each of {', '.join(METRICS)}", tolerance)
    for variant, limits in quality["limits"].items():
        where = f"quality.limits.{variant}"
        if variant not in variants:
            raise InputError(path, f"profile key {where}: no such variant (known: {', '.join(sorted(variants))})")
        if not isinstance(limits, dict) or not _text(limits.get("source")):
            raise _refuse(path, f"{where}.source", "where the limits came from", (limits or {}).get("source"))
        if not _is_metric_map({k: v for k, v in limits.items() if k != "source"}):
            raise _refuse(path, where, f"a mapping of {', '.join(METRICS)} to a number", limits)


def _size_problem(key: Any, value: Any) -> str | None:
    if key in RANGE_KEYS:
        ok = isinstance(value, list) and len(value) == 2 and all(map(_is_number, value))
        ok = ok and float(value[0]) <= float(value[1])
        return None if ok else "a range [low, high]"
    return None if _is_int(value) and value > 0 else "a positive integer"


def _refuse(path: Path, key: str, expected: str, found: Any) -> InputError:
    return InputError(path, f"profile key {key} must be {expected}, found {shown(found)}")


def validate(path: Path, data: dict[str, Any]) -> None:
    for key, (check, expected) in SECTIONS.items():
        if key not in data:
            raise InputError(path, f"profile has no {key} ({expected})")
        if not check(data[key]):
            raise _refuse(path, key, expected, data[key])
    for key, (check, expected) in QUANTIZATION.items():
        if key not in data["quantization"]:
            raise InputError(path, f"profile has no quantization.{key} ({expected})")
        if not check(data["quantization"][key]):
            raise _refuse(path, f"quantization.{key}", expected, data["quantization"][key])
    _validate_sizes(path, "sizes", data["sizes"])
    variants = data.get("variants", {})
    if not isinstance(variants, dict) or not all(isinstance(sizes, dict) for sizes in variants.values()):
        raise _refuse(path, "variants", "a mapping of variant name to sizes", variants)
    for name, sizes in variants.items():
        _validate_sizes(path, f"variants.{name}", sizes)
    if "quality" in data:
        _validate_quality(path, data["quality"], {"published", *variants})
    known = {*data["sizes"], *LAYER_NAMES}
    for section in ("layer_tensors", "model_tensors"):
        _validate_shape_names(path, section, data[section], known)
    _validate_shape_names(path, "quantization.quantized", data["quantization"]["quantized"], known)


def _validate_shape_names(path: Path, where: str, shapes: dict[str, list], known: set[str]) -> None:
    for tensor, shape in shapes.items():
        for term in shape:
            unknown = [f.strip() for f in str(term).split("*") if not f.strip().isdigit() and f.strip() not in known]
            if unknown:
                raise InputError(
                    path, f"profile key {where}.{tensor}: shape term {term!r} names no size ({', '.join(unknown)})"
                )


def _validate_sizes(path: Path, where: str, sizes: dict[Any, Any]) -> None:
    for key, value in sizes.items():
        if (expected := _size_problem(key, value)) is not None:
            raise _refuse(path, f"{where}.{key}", expected, value)
