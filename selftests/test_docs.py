"""The reference stays true to the code: the inspect rules page is generated from RULES, and every page the README
points to exists."""

from __future__ import annotations

import re
from pathlib import Path

from qcompat.inspection.rules_doc import markdown

REPO = Path(__file__).resolve().parents[1]


def test_the_inspect_rules_page_is_what_the_rules_say():
    assert (REPO / "docs" / "inspect-rules.md").read_text() == markdown(), (
        "regenerate it: python -m qcompat.inspection.rules_doc > docs/inspect-rules.md"
    )


def test_every_page_the_readme_links_exists():
    readme = (REPO / "README.md").read_text()
    links = re.findall(r"\]\(([^)#]+)\)", readme)
    assert links and [link for link in links if not (REPO / link).exists()] == []


def test_the_readme_guides_in_a_few_screens():
    assert len((REPO / "README.md").read_text().encode()) < 8 * 1024
