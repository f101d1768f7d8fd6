"""Both config forms of Gemma 4 give the same per-layer picture."""

from __future__ import annotations

from qcompat.checkpoint.architecture import text_architecture
from selftests.support.published_layout import config


def test_published_config_has_full_attention_every_sixth_layer_with_head_dim_512():
    arch = text_architecture(config())
    full = [layer.index for layer in arch.layers if layer.is_full]
    assert full == [5, 11, 17, 23, 29, 35, 41, 47]
    assert {(layer.head_dim, layer.kv_heads, layer.has_v_proj) for layer in arch.layers if layer.is_full} == {
        (512, 1, False)
    }
    assert {(layer.head_dim, layer.kv_heads, layer.has_v_proj) for layer in arch.layers if not layer.is_full} == {
        (256, 8, True)
    }
    assert arch.config_form == "global_head_dim"


def test_per_layer_config_form_reads_the_same():
    published = config()
    text = published["text_config"]
    del text["global_head_dim"], text["num_global_key_value_heads"]
    text["per_layer_config"] = {
        str(i): {"head_dim": 512, "num_key_value_heads": 1} for i in (5, 11, 17, 23, 29, 35, 41, 47)
    }
    converted = text_architecture(published)
    assert converted.layers == text_architecture(config()).layers
    assert converted.config_form == "per_layer_config"
