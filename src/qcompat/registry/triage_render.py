"""`qcompat triage` as a person reads it (the root cause, then each entry the log's signature points at), and as
JSON for machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qcompat.registry.expect import Plan
from qcompat.registry.expect_render import items_line
from qcompat.registry.triage import Candidate, Triage

GITHUB = "https://github.com/{repo}/issues/{number}"


def _link(reference: str) -> str:
    repo, sep, number = reference.partition("#")
    return GITHUB.format(repo=repo, number=number) if sep and number.isdigit() else reference


def _links(candidate: Candidate) -> list[str]:
    links = candidate.issue.links
    found = [_link(reference) for reference in links.get("upstream", [])]
    if "fixed_in" in links:
        found.append(f"fixed in {links['fixed_in'] or 'no release yet'}")
    return found


def _stack_line(plan: Plan, result: Triage) -> str:
    label = plan.stack.label()
    device = plan.stack.device if result.device_known else "an unknown device"
    versions = label.split(" on ")[0] if not label.startswith(" on ") else "no versions known"
    env = " ".join(f"{k}={v}" for k, v in plan.env.items()) or "none said"
    return f"stack: {versions} on {device}; server environment: {env}"


def lines(plan: Plan, log: Path, result: Triage) -> list[str]:
    out = [f"log: {log}", f"root cause: {result.root_cause}", _stack_line(plan, result)]
    out += [f"  read from the log: {said}" for said in result.facts.said]
    for candidate in sorted(result.candidates, key=lambda c: ("known", "unconfirmed", "ruled out").index(c.status)):
        issue = candidate.issue
        if candidate.status == "known":
            out.append(f"known issue: {issue.id}: {issue.title}")
        elif candidate.status == "unconfirmed":
            out.append(f"possibly known issue: {issue.id}: {issue.title}")
            out.append(f"  to confirm, give: {'; '.join(candidate.missing)}")
        else:
            out.append(f"not {issue.id} (its signature is in the log, but {'; '.join(candidate.contradicted)})")
            continue
        out.append(f"  matched: {candidate.matched}")
        out.append(f"  shows at: {', '.join(issue.phases)}")
        if issue.workaround:
            out.append(f"  workaround: {items_line(issue.workaround)}")
        if links := _links(candidate):
            out.append(f"  links: {', '.join(links)}")
    verdicts = {
        "known": "known: a registry entry explains this log",
        "unconfirmed": "not confirmed: an entry may explain it once the missing facts are given",
        "new": "new: no registry entry explains this log; its root cause is above",
    }
    out.append(f"verdict: {verdicts[result.verdict]}")
    return out


def as_json(plan: Plan, log: Path, result: Triage) -> dict[str, Any]:
    return {
        "log": str(log),
        "verdict": result.verdict,
        "exit_code": result.exit_code,
        "root_cause": result.root_cause,
        "stack": {
            "packages": plan.stack.packages,
            "device": plan.stack.device if result.device_known else None,
            "env": plan.env,
        },
        "read_from_log": result.facts.to_dict(),
        "issues": [
            {
                "id": c.issue.id,
                "title": c.issue.title,
                "status": c.status,
                "matched": c.matched,
                "missing": c.missing,
                "ruled_out_by": c.contradicted,
                "phases": list(c.issue.phases),
                "workaround": c.issue.workaround,
                "links": _links(c),
            }
            for c in result.candidates
        ],
    }
