"""The readable face of an inspection: rich tables of dtypes, modules and findings."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from qcompat.inspection.findings import Severity
from qcompat.inspection.run import Inspection

SHOWN_GROUPS = 12  # a report is a screen, not a log


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def render(inspection: Inspection, console: Console) -> None:
    ckpt = inspection.checkpoint
    console.print(f"[bold]{escape(inspection.source)}[/] against profile [bold]{inspection.profile.label}[/]")
    if inspection.remote:
        console.print(escape(inspection.remote.line()))
    dtypes = Table(title="Tensors by dtype", title_justify="left")
    for column in ("dtype", "tensors", "elements", "bytes"):
        dtypes.add_column(column, justify="right" if column != "dtype" else "left")
    elements = ckpt.elements_by_dtype()
    for dtype, nbytes in sorted(ckpt.bytes_by_dtype().items()):
        count = sum(1 for r in ckpt.tensors.values() if r.dtype == dtype)
        dtypes.add_row(dtype, str(count), f"{elements[dtype]:,}", _size(nbytes))
    dtypes.add_row("all", str(len(ckpt.tensors)), f"{sum(elements.values()):,}", _size(ckpt.total_bytes), style="bold")
    console.print(dtypes)
    kept = ", ".join(f"{dtype} {count}" for dtype, count in sorted(ckpt.kept_linears_by_dtype().items()))
    console.print(
        f"Linears: {len(ckpt.packed_modules())} packed ({escape(inspection.scheme)}); kept unpacked: {kept or 'none'}"
    )
    _render_findings(inspection, console)


def _render_findings(inspection: Inspection, console: Console) -> None:
    groups = inspection.groups
    for finding_group in groups[:SHOWN_GROUPS]:
        mark = "[red]ERROR[/]" if finding_group.severity is Severity.ERROR else "[yellow]warn [/]"
        console.print(f"{mark} {escape(finding_group.line())}")
    if len(groups) > SHOWN_GROUPS:
        console.print(f"... and {len(groups) - SHOWN_GROUPS} more kinds of finding (--json lists every one)")
    errors = sum(f.severity is Severity.ERROR for f in inspection.findings)
    warnings = len(inspection.findings) - errors
    numerics = f"numerics read {inspection.numerics_modules} modules" if inspection.numerics else "header-only"
    verdict = "[green]conforms[/]" if inspection.ok else "[red]does not conform[/]"
    console.print(f"{verdict} ({numerics}): {errors} errors, {warnings} warnings")
