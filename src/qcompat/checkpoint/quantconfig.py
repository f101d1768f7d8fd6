"""The quantization config a checkpoint declares, and where its copies disagree."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

COMPARED_KEYS = (
    "quant_method",
    "bits",
    "group_size",
    "sym",
    "desc_act",
    "checkpoint_format",
    "dynamic",
    "modules_in_block_to_quantize",
)

# Engines read the copy inside config.json first; the side files are what older GPTQ loaders read.
PRECEDENCE = ("config.json", "quantization_config.json", "quantize_config.json")


@dataclass(frozen=True)
class QuantConfig:
    source: str
    values: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)

    @functools.cached_property
    def excluded_patterns(self) -> list[re.Pattern[str]]:
        """Regexes of modules `dynamic` leaves unquantized (keys written "-:<regex>"; a bad regex excludes nothing)."""
        return _compiled(key[2:] for key in _keys(self.values.get("dynamic")) if key.startswith("-:"))

    @functools.cached_property
    def kept_patterns(self) -> list[re.Pattern[str]]:
        """auto-round's native format keeps a module unquantized through extra_config {regex: {bits: 16}}."""
        extra = self.values.get("extra_config")
        kept = [key for key in _keys(extra) if isinstance(extra[key], dict) and _at_least_16(extra[key].get("bits"))]
        return _compiled(kept)

    def excludes(self, module: str) -> bool:
        return any(p.match(module) for p in self.excluded_patterns) or any(p.search(module) for p in self.kept_patterns)

    @property
    def modules_in_block(self) -> set[str] | None:
        blocks = self.values.get("modules_in_block_to_quantize")
        if not blocks:
            return None
        if not isinstance(blocks, list):
            return {repr(blocks)}  # not the list of lists it should be: compared, and shown, as it is
        return {str(name) for block in blocks for name in (block if isinstance(block, list) else [block])}


def _keys(mapping: Any) -> list[str]:
    return [key for key in mapping if isinstance(key, str)] if isinstance(mapping, dict) else []


def _at_least_16(bits: Any) -> bool:
    return isinstance(bits, int) and not isinstance(bits, bool) and bits >= 16


def _compiled(patterns) -> list[re.Pattern[str]]:
    compiled = []
    for pattern in patterns:
        try:
            compiled.append(re.compile(pattern))
        except re.error:
            continue
    return compiled


def effective(sources: dict[str, dict[str, Any]]) -> QuantConfig | None:
    for name in PRECEDENCE:
        if name in sources:
            return QuantConfig(name, sources[name])
    return None


def disagreements(sources: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """key -> {source: value} for every compared key whose present copies differ."""
    differing = {}
    for key in COMPARED_KEYS:
        present = {name: values[key] for name, values in sources.items() if key in values}
        if len(present) > 1 and len({json.dumps(v, sort_keys=True) for v in present.values()}) > 1:
            differing[key] = present
    return differing
