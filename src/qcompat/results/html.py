"""The matrix as one self-contained HTML page: cells coloured by verdict with their reasons, stack headers, and
each check's verdicts over earlier runs (`--history`), so the first night of a regression shows."""

from __future__ import annotations

import time
from dataclasses import dataclass
from html import escape
from typing import Any

from qcompat.results.matrix import ABSENT, parity_lines, quality_lines, quality_sections, verdict

STYLE = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #1f2328; }
table { border-collapse: collapse; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; vertical-align: top; text-align: left; }
th.session { min-width: 12em; }
tbody th { min-width: 18em; max-width: 26em; overflow-wrap: anywhere; font-weight: normal; }
th .stack { font-weight: normal; color: #59636e; font-size: 12px; }
td.pass { background: #dafbe1; }
td.known { background: #fff8c5; }
td.failing { background: #ffebe9; color: #a40e26; font-weight: bold; }
td.not-run { background: #eaeef2; color: #59636e; }
td.absent { background: #ffffff; color: #8c959f; }
.why { display: block; font-weight: normal; font-size: 12px; color: #59636e; max-width: 32em; }
.history { display: block; margin-top: 3px; }
.history span { display: inline-block; width: 10px; height: 10px; margin-right: 2px; border: 1px solid #8c959f; }
.history .pass { background: #2da44e; } .history .known { background: #d4a72c; }
.history .failing { background: #cf222e; } .history .not-run { background: #afb8c1; }
.history .absent { background: #ffffff; }
.since { display: block; font-size: 12px; }
"""


@dataclass
class Run:
    """An earlier run's matrix and the label it is shown by (when it started, else its directory)."""

    label: str
    table: dict[str, Any]


def run_label(table: dict[str, Any], fallback: str) -> str:
    started = table.get("started")
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)) if started else fallback


def page(table: dict[str, Any], history: list[Run] = ()) -> str:
    history = sorted(history, key=lambda run: run.table.get("started") or 0)
    sessions = table["sessions"]
    title = f"qcompat compatibility matrix, {run_label(table, 'this run')}"
    head = "".join(
        f'<th class="session">{escape(s)}<span class="stack"><br>{escape(table["stacks"][s])}'
        f"<br>{escape(table['checkpoints'][s])}<br>{escape(table['ran'][s])}"
        + (f"<br>{escape(table['releases'][s])}" if table.get("releases", {}).get(s) else "")
        + "</span></th>"
        for s in sessions
    )
    rows = "".join(_row(name, cells, table, history) for name, cells in table["checks"].items())
    parity = "".join(f"<li>{escape(line)}</li>" for line in parity_lines(table))
    earlier = ", ".join(escape(run.label) for run in history) or "none given"
    quality = "".join(_section(*section) for section in quality_sections(table))
    if not quality:
        quality = f'<h2>Quality against the BF16 base</h2>\n<p id="quality">{escape(quality_lines(table)[0])}</p>\n'

    return (
        f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>\n<h1>{escape(title)}</h1>\n"
        f"<p>Colours: green pass, yellow known failure, red new failure or unexpected pass, grey not run, "
        f"white {ABSENT} not part of that session. Earlier runs (oldest first): {earlier}.</p>\n"
        f'<table id="matrix"><thead><tr><th>check</th>{head}</tr></thead><tbody>{rows}</tbody></table>\n'
        f'<h2>Greedy parity between sessions</h2>\n<ul id="parity">{parity}</ul>\n{quality}</body></html>\n'
    )


def _section(title: str, columns: tuple[str, ...], rows: list[list[str]]) -> str:
    header = "".join(f"<th>{escape(c)}</th>" for c in columns)
    body = "".join("<tr>" + "".join(f"<td>{escape(c)}</td>" for c in row) + "</tr>" for row in rows)
    name = "tasks" if title.startswith("Task") else "quality"
    return (
        f'<h2>{escape(title)}</h2>\n<table id="{name}"><thead><tr>{header}</tr></thead><tbody>{body}</tbody></table>\n'
    )


def _row(name: str, cells: dict[str, str], table: dict[str, Any], history: list[Run]) -> str:
    out = [f"<tr><th>{escape(name)}</th>"]
    for session in table["sessions"]:
        text = cells.get(session, ABSENT)
        kind = verdict(text)
        why = table.get("details", {}).get(name, {}).get(session, "")
        out.append(
            f'<td class="{kind}" data-session="{escape(session)}" title="{escape(why)}">{escape(text)}'
            + (f'<span class="why">{escape(why)}</span>' if why and why != text else "")
            + _history(name, session, kind, history)
            + "</td>"
        )
    return "".join(out) + "</tr>"


def _history(name: str, session: str, kind: str, history: list[Run]) -> str:
    if not history:
        return ""
    past = [(run.label, run.table["checks"].get(name, {}).get(session, ABSENT)) for run in history]
    if kind == "absent" and all(verdict(text) == "absent" for _, text in past):
        return ""  # never part of that session: nothing to show
    marks = "".join(
        f'<span class="{verdict(text)}" title="{escape(label)}: {escape(text)}"></span>' for label, text in past
    )
    since = ""
    if kind == "failing":
        first = len(past)
        while first > 0 and verdict(past[first - 1][1]) == "failing":
            first -= 1
        since = f"failing since {past[first][0]}" if first < len(past) else "first failing in this run"
        since = f'<span class="since">{escape(since)}</span>'
    return f'<span class="history">{marks}<span class="{kind}" title="this run"></span></span>{since}'
