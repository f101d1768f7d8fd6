"""Class 3: `qcompat inspect --profile FILE.yaml` with a damaged profile. A profile the rules cannot read is
unusable input (2, naming the file); the shipped profile copied verbatim, or with a key the rules ignore, is valid
(0 or 1: a profile given as a file is judged with its published sizes, which the tiny does not have: 1).
A damaged `variants` section is unusable too, although a file's variants are not read for the judgement."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import yaml

from qcompat.fixtures import profiles_dir
from selftests.support.bad_input import ODD, UNUSABLE, Case, Run, Workspace

SHIPPED = profiles_dir() / "gemma-4-12b-it-int4-mlponly.yaml"


def _shipped() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text())


def _profile(content: Callable[[], str | bytes], name: str = "profile.yaml") -> Callable[[Workspace], Run]:
    def build(ws: Workspace) -> Run:
        path = ws.path(name)
        made = content()
        path.write_bytes(made if isinstance(made, bytes) else made.encode())
        return Run(["inspect", "--profile", str(path)], named=(name, str(path)))

    return build


def _edited(change: Callable[[dict[str, Any]], None]) -> Callable[[], str]:
    def content() -> str:
        data = _shipped()
        change(data)
        return yaml.safe_dump(data, sort_keys=False)

    return content


def _set(key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        if value is None:
            data.pop(key, None)
        else:
            data[key] = value

    return change


def _size(key: str, value: Any, variant: str | None = "tiny") -> Callable[[dict[str, Any]], None]:
    def change(data: dict[str, Any]) -> None:
        (data["variants"][variant] if variant else data["sizes"])[key] = value

    return change


PROFILES: list[tuple[str, Callable[[], str | bytes], tuple[int, ...], str]] = [
    ("profile-shipped-copy", SHIPPED.read_text, ODD, "the shipped profile: the tiny conforms"),
    ("profile-extra-key", _edited(_set("comment", "a key no rule reads")), ODD, "ignored"),
    ("profile-empty-file", lambda: "", UNUSABLE, ""),
    ("profile-only-comment", lambda: "# nothing\n", UNUSABLE, ""),
    ("profile-no-sizes", _edited(_set("sizes", None)), UNUSABLE, ""),
    ("profile-sizes-a-list", _edited(_set("sizes", [256, 384])), UNUSABLE, ""),
    ("profile-sizes-null", _edited(_set("sizes", "~")), UNUSABLE, ""),
    (
        "profile-variant-size-a-string",
        _edited(_size("hidden_size", "abc")),
        UNUSABLE,
        "a file's variants are not read, still no valid profile",
    ),
    ("profile-published-size-a-string", _edited(_size("hidden_size", "abc", None)), UNUSABLE, ""),
    ("profile-size-a-list", _edited(_size("head_dim", [64], None)), UNUSABLE, ""),
    ("profile-range-not-a-pair", _edited(_size("total_bytes", 3e6, None)), UNUSABLE, ""),
    ("profile-variants-a-list", _edited(_set("variants", ["tiny"])), UNUSABLE, ""),
    ("profile-variant-a-string", _edited(lambda d: d["variants"].update(tiny="small")), UNUSABLE, ""),
    ("profile-no-name", _edited(_set("name", None)), UNUSABLE, ""),
    ("profile-no-quantization", _edited(_set("quantization", None)), UNUSABLE, ""),
    ("profile-quantization-a-string", _edited(_set("quantization", "gptq")), UNUSABLE, ""),
    ("profile-quantized-a-list", _edited(lambda d: d["quantization"].update(quantized=["mlp.up_proj"])), UNUSABLE, ""),
    ("profile-layer_tensors-a-list", _edited(_set("layer_tensors", ["input_layernorm.weight"])), UNUSABLE, ""),
    (
        "profile-shape-unknown-size",
        _edited(lambda d: d["layer_tensors"].update({"layer_scalar": ["nowhere"]})),
        UNUSABLE,
        "",
    ),
    ("profile-full_attention_every-string", _edited(_set("full_attention_every", "six")), UNUSABLE, ""),
    ("profile-full_attention_every-zero", _edited(_set("full_attention_every", 0)), UNUSABLE, "i % 0"),
    ("profile-architectures-a-string", _edited(_set("architectures", "Gemma4")), UNUSABLE, ""),
    ("profile-engine_files-a-list", _edited(_set("engine_files", ["tokenizer.json"])), UNUSABLE, ""),
    ("profile-yaml-syntax-error", lambda: "name: [unclosed\nsizes: {\n", UNUSABLE, "one line, not PyYAML's block"),
    ("profile-yaml-tab-indent", lambda: "name: x\nsizes:\n\thidden_size: 1\n", UNUSABLE, ""),
    ("profile-yaml-duplicate-anchor-alias", lambda: "name: *nowhere\n", UNUSABLE, ""),
    ("profile-top-level-list", lambda: "- name: x\n- sizes: {}\n", UNUSABLE, ""),
    ("profile-top-level-string", lambda: "just a string\n", UNUSABLE, ""),
    ("profile-top-level-number", lambda: "42\n", UNUSABLE, ""),
    ("profile-not-utf8", lambda: b"name: \xff\xfe\nsizes: {}\n", UNUSABLE, ""),
    ("profile-nested-10000-deep", lambda: "name: " + "[" * 10000 + "]" * 10000 + "\n", UNUSABLE, ""),
    ("profile-python-tag", lambda: "name: !!python/object/apply:os.system ['true']\n", UNUSABLE, "safe loader"),
    ("profile-binary-garbage", lambda: bytes(range(256)), UNUSABLE, ""),
]


def cases() -> list[Case]:
    found = [
        Case(name, _profile(content), expect, "profile", why, twin=True) for name, content, expect, why in PROFILES
    ]
    found.append(Case("profile-yml-suffix-missing-file", _missing_profile, UNUSABLE, "profile", "", twin=True))
    return found


def _missing_profile(ws: Workspace) -> Run:
    path = ws.root / "absent.yaml"
    return Run(["inspect", "--profile", str(path)], named=("absent.yaml",))
