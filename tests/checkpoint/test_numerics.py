"""The packed weights hold sane values (marker `numerics`: reads tensor data, one tensor at a time)."""

from __future__ import annotations

import pytest

from qcompat.inspection.grouping import group
from qcompat.inspection.layout import run_layout
from qcompat.inspection.numerics import RULES, check_numerics

pytestmark = pytest.mark.numerics


@pytest.fixture(scope="module")
def numeric_findings(inspection):
    layout = run_layout(inspection.checkpoint, inspection.profile)
    modules = [module for module, _, _ in layout.gptq_modules]
    assert modules, "no linear is packed as the config declares, so no value can be read"
    return check_numerics(inspection.checkpoint, layout.packing, modules, layout.misfits)


@pytest.mark.parametrize("rule", sorted(RULES))
def test_packed_weights_hold(rule, numeric_findings):
    assert [g.line() for g in group([f for f in numeric_findings if f.rule == rule])] == [], RULES[rule]
