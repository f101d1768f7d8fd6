"""A checkpoint other than the tiny is prompted with chat turns through its own template (needs transformers)."""

from __future__ import annotations

import pytest
import yaml

from qcompat.fixtures import tiny_int4
from qcompat.suite.prompts import INSTRUCT, instruct_prompts

pytestmark = pytest.mark.transformers


def test_instruct_prompts_are_rendered_by_the_checkpoints_chat_template_without_a_second_bos():
    conversations = yaml.safe_load(INSTRUCT.read_text())["prompts"]
    rendered = instruct_prompts(tiny_int4())
    assert len(rendered) == len(conversations) >= 4
    for text, conversation in zip(rendered, conversations):
        assert not text.startswith("<bos>"), "the engines add BOS when they tokenize"
        assert conversation["messages"][-1]["content"] in text
        assert text.endswith("<|turn>model\n<|channel>thought\n<channel|>"), text
    assert rendered[4].startswith("<|turn>system\nYou answer in exactly one short sentence.<turn|>\n")
