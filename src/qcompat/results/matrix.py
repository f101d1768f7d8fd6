"""The compatibility matrix (check x session): a brief view for people, the whole table, Markdown and JSON."""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from qcompat.env.probe import Cpu, hardware_label
from qcompat.results.files import SessionResults, cell, check_name, detail, first_started
from qcompat.results.session_parity import across_sessions, runs_of
from qcompat.results.session_quality import quality_of


def matrix(sessions: list[SessionResults]) -> dict[str, Any]:
    columns = [s.session for s in sessions]
    rows: dict[str, dict[str, str]] = {}
    details: dict[str, dict[str, str]] = {}
    for results in sessions:
        for check in results.checks:
            rows.setdefault(check_name(check["check"]), {})[results.session] = cell(check)
            details.setdefault(check_name(check["check"]), {})[results.session] = detail(check)
    stacks = {s.session: _stack(s) for s in sessions}
    releases = {s.session: _releases(s) for s in sessions}
    checkpoints = {s.session: _checkpoint(s) for s in sessions}
    ran = {s.session: _ran(s) for s in sessions}
    runs = runs_of(sessions)
    parity = {
        "pairs": [pair.to_dict() for pair in across_sessions(runs)],
        "runs": {s.session: [r.run for r in runs if r.session == s.session] for s in sessions},
    }
    return {
        "sessions": columns,
        "stacks": stacks,
        "releases": releases,
        "checkpoints": checkpoints,
        "ran": ran,
        "checks": rows,
        "details": details,
        "parity": parity,
        "quality": [_quality_row(q) for q in quality_of(sessions)],
        "started": first_started(sessions),
    }


QUALITY_COLUMNS = ("session", "run", "tokens", "perplexity (base)", "ratio", "KLD mean", "KLD p99", "top-1", "how")
TASK_COLUMNS = ("session", "run", "task", "items", "accuracy (base)", "recovery")


def _quality_row(found) -> dict[str, Any]:
    return {"session": found.session, **found.quality.to_dict()}


def is_task(row: dict[str, Any]) -> bool:
    return "accuracy" in row["figures"]


def task_cells(row: dict[str, Any]) -> list[str]:
    """One task run as the matrix shows it, in TASK_COLUMNS order."""
    f = row["figures"]
    accuracy = f"{f['accuracy']:.1%} ({f['base_accuracy']:.1%})"
    return [row["session"], row["run"], f["task"], str(f["items"]), accuracy, f"{f['recovery']:.1%}"]


def quality_sections(table: dict[str, Any]) -> list[tuple[str, tuple[str, ...], list[list[str]]]]:
    """(title, columns, rows) of each quality section that has rows: distributions, then task accuracy."""
    rows = table.get("quality") or []
    sections = [
        ("Quality against the BF16 base", QUALITY_COLUMNS, [quality_cells(r) for r in rows if not is_task(r)]),
        ("Task accuracy against the BF16 base", TASK_COLUMNS, [task_cells(r) for r in rows if is_task(r)]),
    ]
    return [section for section in sections if section[2]]


def quality_cells(row: dict[str, Any]) -> list[str]:
    """One quality run as the matrix shows it, in QUALITY_COLUMNS order (the JSON keeps every figure whole)."""
    f = row["figures"]
    how = row["approximation"].split(":")[0]
    return [
        row["session"],
        row["run"],
        str(f["tokens"]),
        f"{f['ppl']:.4g} ({f['base_ppl']:.4g})",
        f"{f['ppl_ratio']:.5f}",
        f"{f['kld_mean']:.3g}",
        f"{f['kld_p99']:.3g}",
        f"{f['top1_agreement']:.1%}",
        f"{how}, {row['corpus']}",
    ]


def quality_lines(table: dict[str, Any]) -> list[str]:
    """The quality section for a terminal: a line per engine run against its base, or why there is none."""
    rows = table.get("quality") or []
    if not rows:
        return ["no quality figures recorded (no session measured the checkpoint against its base)"]
    return [
        "{} {}: {} on {} items, accuracy {}, recovery {}".format(*task_cells(row))
        if is_task(row)
        else "{} {}: {} tokens, perplexity {}, ratio {}, KLD mean {} p99 {}, top-1 {} ({})".format(*quality_cells(row))
        for row in rows
    ]


def _releases(results: SessionResults) -> str:
    """Newest vs tested for a floating session (and why they differ); a following pinned stack that is behind."""
    from qcompat.upstream.floating import header

    installed = results.data.get("installed")
    return header(installed) if installed else results.data.get("behind") or ""


def parity_lines(table: dict[str, Any]) -> list[str]:
    """The parity section: each compared pair, then the sessions with no greedy run to compare."""
    parity = table["parity"]
    lines = [pair["line"] for pair in parity["pairs"]]
    if not lines:
        lines.append("no two sessions ran greedy on the same checkpoint and prompts")
    silent = [session for session, runs in parity["runs"].items() if not runs]
    if silent:
        lines.append(f"no greedy run recorded (a failed or not-run server, or no such check): {', '.join(silent)}")
    return lines


def _checkpoint(results: SessionResults) -> str:
    """Which checkpoint the session ran: the end of its path and the start of its identity (sha256 of headers)."""
    checkpoint = results.data.get("checkpoint") or {}
    if not checkpoint.get("path"):
        return "no checkpoint"
    hub = checkpoint.get("hub")
    name = (
        f"{hub['repo']}@{hub['revision']} (commit {hub['commit'][:12]})"
        if hub
        else "/".join(PurePath(checkpoint["path"]).parts[-2:])
    )
    identity = checkpoint.get("identity")
    return f"{name} @ {identity[:12]}" if identity else f"{name} (unreadable)"


def _ran(results: SessionResults) -> str:
    """How many of the session's checks ran (a check not run says why in its own cell)."""
    ran = sum(check["outcome"] != "skipped" for check in results.checks)
    return f"{ran} of {len(results.checks)} ran"


def _stack(results: SessionResults) -> str:
    probe = results.data.get("probe") or {}
    packages = probe.get("packages", {})
    names = probe.get("distributions", {})
    parts = [f"{names.get(p, p)} {packages[p]}" for p in ("vllm", "transformers", "gptqmodel") if p in packages]
    gpus = probe.get("gpus") or []
    gpu = gpus[0] if gpus else {}
    hardware = hardware_label(gpu.get("name"), gpu.get("compute_capability"), Cpu.from_dict(probe.get("cpu")))
    return ", ".join(parts + [hardware])


ABSENT = "·"  # the check is not part of that session
VERDICTS = {"pass": "pass", "known": "known", "NEW": "failing", "UNEXPECTED": "failing", "not run": "not-run"}


def verdict(text: str) -> str:
    """A cell's kind, by which it is coloured: pass, known, failing, not-run, absent."""
    return next((kind for prefix, kind in VERDICTS.items() if text.startswith(prefix)), "absent")


def markdown(table: dict[str, Any]) -> str:
    sessions = table["sessions"]
    lines = ["| check | " + " | ".join(sessions) + " |", "|---|" + "---|" * len(sessions)]
    lines.append("| *stack* | " + " | ".join(table["stacks"][s] for s in sessions) + " |")
    if any(table["releases"].values()):
        lines.append("| *releases* | " + " | ".join(table["releases"][s] or "pinned" for s in sessions) + " |")
    lines.append("| *checkpoint* | " + " | ".join(table["checkpoints"][s] for s in sessions) + " |")
    lines.append("| *checks* | " + " | ".join(table["ran"][s] for s in sessions) + " |")
    for name, cells in table["checks"].items():
        lines.append(f"| {name} | " + " | ".join(cells.get(s, ABSENT).replace("|", "\\|") for s in sessions) + " |")
    lines += ["", "**Greedy parity between sessions**", ""] + [f"- {line}" for line in parity_lines(table)]
    for title, columns, rows in quality_sections(table):
        lines += ["", f"**{title}**", "", "| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
        lines += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
    if not table.get("quality"):
        lines += ["", "**Quality against the BF16 base**", ""] + [f"- {line}" for line in quality_lines(table)]
    return "\n".join(lines)


def render_table(table: dict[str, Any], console) -> None:
    from rich.markup import escape
    from rich.table import Table

    grid = Table(title="Compatibility matrix (· = not part of that session)", title_justify="left", show_lines=True)
    grid.add_column("check", overflow="fold")
    for session in table["sessions"]:
        releases = table["releases"][session]
        grid.add_column(
            f"{escape(session)}\n[dim]{escape(table['stacks'][session])}\n{escape(table['checkpoints'][session])}\n"
            f"{escape(table['ran'][session])}[/]" + (f"\n[yellow]{escape(releases)}[/]" if releases else ""),
            overflow="fold",
        )
    styles = {"pass": "green", "known": "yellow", "failing": "bold red", "not-run": "dim", "absent": ""}
    for name, cells in table["checks"].items():
        row = []
        for session in table["sessions"]:
            text = cells.get(session, ABSENT)
            style = styles[verdict(text)]
            row.append(f"[{style}]{escape(text)}[/]" if style else escape(text))
        grid.add_row(escape(name), *row)
    console.print(grid)
    console.print("[bold]Greedy parity between sessions[/] (same checkpoint, same prompts)")
    for line in parity_lines(table):
        console.print(f"  {escape(line)}")
    for title, columns, rows in quality_sections(table):
        grid = Table(title=title, title_justify="left")
        for column in columns:
            grid.add_column(column, overflow="fold")
        for row in rows:
            grid.add_row(*map(escape, row))
        console.print(grid)
    if not table.get("quality"):
        console.print(f"[bold]Quality against the BF16 base[/]: {escape(quality_lines(table)[0])}")


KINDS = ("pass", "known", "failing", "not-run")


def counts(table: dict[str, Any], session: str) -> dict[str, int]:
    """How many of the session's cells are of each kind (a check not part of the session is not counted)."""
    found = dict.fromkeys(KINDS, 0)
    for cells in table["checks"].values():
        if session in cells:
            found[verdict(cells[session])] += 1
    return found


def brief(table: dict[str, Any], reasons: list[str]) -> list[str]:
    """The matrix for a person on a red night: the gate's verdict and its reasons, a line per session with its
    counts, then only the checks that are not all pass, a line each with its cells grouped by what they say,
    then the parity section. `report --full` (and Markdown, HTML) keep the whole table."""
    lines = [f"gate: FAILED ({len(reasons)} reason{'s' if len(reasons) != 1 else ''})" if reasons else "gate: passed"]
    lines += [f"  {reason}" for reason in reasons]
    lines.append("sessions:")
    width = max(map(len, table["sessions"]))  # load_all refuses a run without sessions
    for session in table["sessions"]:
        found = counts(table, session)
        tally = ", ".join(f"{n} {kind}" for kind, n in found.items() if n) or "no checks"
        releases = table.get("releases", {}).get(session)
        lines.append(
            f"  {session:<{width}}  {tally}  [{table['stacks'][session]}; {table['checkpoints'][session]}]"
            + (f" {releases}" if releases else "")
        )
    shown = {
        name: cells for name, cells in table["checks"].items() if any(verdict(c) != "pass" for c in cells.values())
    }
    if not table["checks"]:
        lines.append("no checks recorded")
    else:
        lines.append(
            f"checks not all pass ({len(shown)} of {len(table['checks'])}):" if shown else "every check passed"
        )
    for name, cells in shown.items():
        said: dict[str, list[str]] = {}
        for session in table["sessions"]:
            if session in cells and verdict(cells[session]) != "pass":
                said.setdefault(cells[session], []).append(session)
        lines.append(f"  {name}: " + "; ".join(f"{', '.join(where)}: {cell}" for cell, where in said.items()))
    lines.append("Greedy parity between sessions (same checkpoint, same prompts):")
    lines += [f"  {line}" for line in parity_lines(table)]
    lines.append("Quality against the BF16 base:")
    lines += [f"  {line}" for line in quality_lines(table)]
    return lines
