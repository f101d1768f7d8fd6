"""`qcompat expect` as a person reads it (the plan, each known failure with its workaround, each behaviour), and as
JSON for machines."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from qcompat.registry.expect import Expectation, Plan


def items_line(data: dict[str, Any]) -> str:
    def value(v: Any) -> str:
        if isinstance(v, dict):
            return ", ".join(f"{k}={x}" for k, x in v.items())
        if isinstance(v, list):
            return ", ".join(map(str, v))
        return str(v)

    return "; ".join(f"{key} {value(v)}" for key, v in data.items() if v not in (None, [], {}))


def lines(planned: Plan, root: Path, facts: dict[str, Any], result: Expectation) -> list[str]:
    env = " ".join(f"{k}={v}" for k, v in planned.env.items()) or "nothing set"
    kind = "this machine" if planned.probed else "planned"
    shown = ", ".join(
        f"{key} {facts[key]}"
        for key in ("quant_method", "bits", "group_size", "quantized_attention", "heterogeneous_head_dims")
        if key in facts
    )
    label = planned.stack.label()
    label = "no engine installed" + label if label.startswith(" on ") else label
    tools = planned.stack.tools
    said = ", ".join(f"{name} {'there' if tools[name] else 'missing'}" for name in ("nvcc", "ninja") if name in tools)
    out = [f"{kind}: {label}; {said or 'nvcc and ninja unknown'}; environment: {env}", f"checkpoint: {root} ({shown})"]
    for issue in result.install:
        out.append(f"cannot be installed from the index: {issue.id}: {issue.title}")
        if issue.workaround:
            out.append(f"  workaround: {items_line(issue.workaround)}")
        out.append("  what follows holds once the stack is installed another way")
    for issue in result.failures:
        out.append(f"known failure: {issue.id} (at {issue.phase}): {issue.title}")
        if issue.workaround:
            out.append(f"  workaround: {items_line(issue.workaround)}")
        if issue.links:
            out.append(f"  links: {items_line(issue.links)}")
    for behaviour in result.behaviours:
        out.append(f"expected behaviour: {behaviour['id']}: {behaviour.get('title', '')}")
        out.append(f"  the server logs /{behaviour['log']}/")
    for entry, missing in result.not_judged.items():
        out.append(f"not judged: {entry}: the plan does not say {', '.join(missing)}")
    for release in result.unread:
        out.append(f"requirements not checked: {release}")
    count = len(result.failures)
    if count:
        out.append(f"{count} known failure{'s' if count != 1 else ''} expected")
    elif result.not_judged:
        out.append(f"no known failure among the entries judged; {len(result.not_judged)} not judged (above)")
    else:
        out.append("no known issue expected")
    return out


def as_json(planned: Plan, root: Path, facts: dict[str, Any], result: Expectation) -> dict[str, Any]:
    return {
        "stack": planned.stack.to_dict(),
        "probed": planned.probed,
        "env": planned.env,
        "checkpoint": str(root),
        "facts": facts,
        "failures": [
            {"id": i.id, "title": i.title, "phase": i.phase, "workaround": i.workaround, "links": i.links}
            for i in result.failures
        ],
        "behaviours": [{"id": b["id"], "title": b.get("title", ""), "log": b["log"]} for b in result.behaviours],
        "not_judged": result.not_judged,
        "requirements_not_checked": result.unread,
        "not_installable": [{"id": i.id, "title": i.title, "workaround": i.workaround} for i in result.install],
    }
