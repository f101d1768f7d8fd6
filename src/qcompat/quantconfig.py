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
        dynamic = self.values.get("dynamic") or {}
        patterns = []
        for key in dynamic if isinstance(dynamic, dict) else ():
            if isinstance(key, str) and key.startswith("-:"):
                try:
                    patterns.append(re.compile(key[2:]))
                except re.error:
                    continue
        return patterns

    def excludes(self, module: str) -> bool:
        return any(pattern.match(module) for pattern in self.excluded_patterns)

    @property
    def modules_in_block(self) -> set[str] | None:
        blocks = self.values.get("modules_in_block_to_quantize")
        if not blocks:
            return None
        return {name for block in blocks for name in block}


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
