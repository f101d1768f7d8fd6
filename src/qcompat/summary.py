"""The readable face of an inspection: rich tables of dtypes, modules and findings."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from qcompat.findings import Severity
from qcompat.inspection import Inspection


def _size(count: int) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if count < 1000 or unit == "GB":
            return f"{count:,.0f} {unit}" if unit == "B" else f"{count:,.1f} {unit}"
        count /= 1000
    raise AssertionError("unreachable")


def render(inspection: Inspection, console: Console) -> None:
    ckpt = inspection.checkpoint
    console.print(f"[bold]{ckpt.root}[/] against profile [bold]{inspection.profile.label}[/]")
    dtypes = Table(title="Tensors by dtype", title_justify="left")
    for column in ("dtype", "tensors", "elements", "bytes"):
        dtypes.add_column(column, justify="right" if column != "dtype" else "left")
    elements = ckpt.elements_by_dtype()
    for dtype, nbytes in sorted(ckpt.bytes_by_dtype().items()):
        count = sum(1 for r in ckpt.tensors.values() if r.dtype == dtype)
        dtypes.add_row(dtype, str(count), f"{elements[dtype]:,}", _size(nbytes))
    dtypes.add_row("all", str(len(ckpt.tensors)), f"{sum(elements.values()):,}", _size(ckpt.total_bytes), style="bold")
    console.print(dtypes)
    quantized = ckpt.gptq_modules()
    kept = [n for n in ckpt.tensors if n.endswith(".weight") and "_proj" in n]
    console.print(
        f"GPTQ-packed linears: {len(quantized)}; linears kept {inspection.profile['kept_dtype']}: {len(kept)}"
    )
    _render_findings(inspection, console)


def _render_findings(inspection: Inspection, console: Console) -> None:
    errors = [f for f in inspection.findings if f.severity is Severity.ERROR]
    warnings = [f for f in inspection.findings if f.severity is Severity.WARNING]
    for finding in errors + warnings:
        mark = "[red]ERROR[/]" if finding.severity is Severity.ERROR else "[yellow]warn [/]"
        console.print(f"{mark} {escape(finding.line())}", soft_wrap=True)
    numerics = "with numerics" if inspection.numerics else "header-only"
    verdict = "[green]conforms[/]" if inspection.ok else "[red]does not conform[/]"
    console.print(f"{verdict} ({numerics}): {len(errors)} errors, {len(warnings)} warnings")
