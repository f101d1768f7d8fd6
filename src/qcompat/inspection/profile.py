"""A checkpoint family's promised layout, loaded from fixtures/profiles/<name>.yaml.

One file holds the rules' data; its `variants` only change sizes (the tiny fixture is `:tiny`).
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from qcompat import inputs
from qcompat.errors import QcompatError
from qcompat.fixtures import profiles_dir
from qcompat.inspection.profile_schema import RANGE_KEYS, validate

DEFAULT_PROFILE = "gemma-4-12b-it-int4-mlponly"


@dataclass(frozen=True)
class Profile:
    name: str
    variant: str  # "published" or a key of `variants`
    data: dict[str, Any]
    sizes: dict[str, Any]

    @property
    def label(self) -> str:
        return self.name if self.variant == "published" else f"{self.name}:{self.variant}"

    def __getitem__(self, key: str) -> Any:
        return self.data[key]

    @property
    def quantization(self) -> dict[str, Any]:
        return self.data["quantization"]

    @property
    def size_values(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.sizes.items() if k not in RANGE_KEYS}

    def range_of(self, key: str) -> tuple[float, float]:
        low, high = self.sizes[key]
        return float(low), float(high)

    def shape(self, expression: list[Any], scope: dict[str, int]) -> tuple[int, ...]:
        """Evaluate [\"num_attention_heads*head_dim\", \"hidden_size\"] against the sizes in scope."""
        return tuple(_product(term, scope) for term in expression)


def _product(term: Any, scope: dict[str, int]) -> int:
    if isinstance(term, int):
        return term
    factors = [f.strip() for f in str(term).split("*")]
    return math.prod(int(f) if f.isdigit() else scope[f] for f in factors)


def available_profiles() -> list[str]:
    return sorted(p.stem for p in profiles_dir().glob("*.yaml"))


def profile_path(name: str) -> Path:
    candidate = Path(name)
    if candidate.suffix in (".yaml", ".yml") and inputs.exists(candidate):
        return candidate
    path = profiles_dir() / f"{name}.yaml"
    if not path.is_file():
        raise QcompatError(f"unknown profile {name!r}; known: {', '.join(available_profiles())}")
    return path


@functools.cache
def _read_yaml(path: Path) -> dict[str, Any]:
    data = inputs.load_yaml(path, dict, "profile")
    validate(path, data)
    return data


def load_profile(spec: str = DEFAULT_PROFILE, variant: str | None = None) -> Profile:
    """`spec` is NAME or NAME:VARIANT (or a path to a YAML file)."""
    name, _, named_variant = spec.partition(":") if not spec.endswith((".yaml", ".yml")) else (spec, "", "")
    data = _read_yaml(profile_path(name))
    chosen = named_variant or variant or "published"
    if chosen == "published":
        return Profile(data["name"], chosen, data, dict(data["sizes"]))
    variants = data.get("variants") or {}
    if chosen not in variants:
        raise QcompatError(f"profile {data['name']} has no variant {chosen!r}; known: {', '.join(variants)}")
    return Profile(data["name"], chosen, data, {**data["sizes"], **variants[chosen]})


def variant_matching(profile: Profile, found: dict[str, int]) -> str:
    """The variant whose sizes the config states exactly, else "published" (whose sizes then get checked)."""
    candidates = {"published": profile.data["sizes"], **(profile.data.get("variants") or {})}
    for variant, sizes in candidates.items():
        wanted = {k: int(v) for k, v in {**profile.data["sizes"], **sizes}.items() if k not in RANGE_KEYS}
        if all(found.get(key) == value for key, value in wanted.items()):
            return variant
    return "published"
