"""The packed weights hold sane values (marker `numerics`: reads tensor data, one tensor at a time)."""

from __future__ import annotations

import pytest

from qcompat.numerics import RULES, check_module
from tests.checkpoint.rules import broken

pytestmark = pytest.mark.numerics


@pytest.fixture(scope="module")
def numeric_findings(inspection):
    group_size = inspection.profile.quantization["group_size"]
    modules = inspection.checkpoint.gptq_modules()
    assert modules, "no GPTQ-packed linear to check"
    return [f for module in modules for f in check_module(inspection.checkpoint, module, group_size)]


@pytest.mark.parametrize("rule", sorted(RULES))
def test_packed_weights_hold(rule, numeric_findings):
    assert broken(numeric_findings, rule) == [], RULES[rule]
