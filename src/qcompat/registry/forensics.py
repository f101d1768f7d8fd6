"""Log forensics: the root cause of a failure in a server log, the line the matrix names it by, and the log's
text as signatures read it (prefixes gone, wrapped messages joined).

A log line may carry, outermost first: a collector's stamp (docker -t, kubectl --timestamps and GitHub Actions
write ISO 8601; journald and syslog "Dec 03 10:00:00 host unit[1]:"; docker compose "vllm-1  | "; a pasted
Markdown quote "> "), vLLM's process prefix ("(EngineCore_DP0 pid=7)", vLLM 0.10's "(VllmWorker TP0 pid=1)",
"(VllmWorker rank=1 pid=2)", 0.5's "(VllmWorkerProcess pid=3)", perhaps after a container's name), the logger's
level, date and place ("ERROR 11-29 05:47:47 [file.py:1063]", before vLLM 0.7 "ERROR 03-13 03:20:24
engine.py:400]"), and torch's rank prefix ("[rank0]:E1129 06:01:26.757000 13909 path/file.py:2908] [0/0] ").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

COLLECTOR = re.compile(
    r"^(?:\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?:?\s+"
    r"|[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ [\w.@/-]+(?:\[\d+\])?:\s"
    r"|[\w.-]+-\d+\s+\|\s?"
    r"|>(?: |$))"
)
PROCESS = re.compile(r"^(?:[\w.-]+\s+)?\(([A-Za-z_][\w-]*(?: [\w=-]+)* pid=\d+)\) ?")
LEVEL = re.compile(
    r"^(DEBUG|INFO|WARNING|WARN|ERROR|CRITICAL) \d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)? "
    r"(?:\[[^\]]*\]|[\w.-]+:\d+\])\s?"
)
RANK = re.compile(r"^\[rank\d+\]:(?:[A-Z]\d{4} [\d:.]+ \d+ \S+\] (?:\[[\d/]+\] )?)?")

ERROR_LINE = re.compile(r"(Error|Exception|Check failed|error:|FAILED|Traceback)")
EXCEPTION_LINE = re.compile(
    r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Unsupported)(?:\(\w+\))?(?::(?:\s.*)?)?$"
)
FATAL_CHECK = re.compile(r"(\S+:\d+\] )?Check failed: .*")
TERMINATE = re.compile(r"terminate called after throwing an instance of '([^']+)'")
WHAT = re.compile(r"^what\(\):\s+(.*)")
TRACEBACK = "Traceback (most recent call last)"
NOT_A_CONTINUATION = re.compile(r"^(File \"|Traceback|During handling|The above exception|\^|~|\[\.\.\.|\+\+ )")
WRAP_WIDTH = 60  # a line stopped mid-sentence at least this long was wrapped, not finished
MAX_CONTINUATION = 3


@dataclass(frozen=True)
class Line:
    process: str  # vLLM's process name and pid, "" where the line has none
    text: str  # without any prefix, stripped
    level: str  # the logger's level where the line carried its prefix (a record starts there), else ""
    indent: int = 0  # spaces before the text once the prefixes are gone

    @property
    def logged(self) -> bool:
        return bool(self.level)


def read_line(raw: str) -> Line:
    text = raw.rstrip()
    if text.lstrip().startswith('"(') and text.endswith('"'):  # a line pasted in quotes
        text = text.lstrip()[1:-1]
    while collector := COLLECTOR.match(text.lstrip()):  # each consumes at least one character
        text = text.lstrip()[collector.end() :]
    process = PROCESS.match(text)
    if process:
        text = text[process.end() :]
    level = LEVEL.match(text)
    if level:
        text = text[level.end() :]
    text = RANK.sub("", text, count=1).rstrip()
    stripped = text.lstrip()
    return Line(
        process.group(1) if process else "", stripped, level.group(1) if level else "", len(text) - len(stripped)
    )


def read_lines(text: str) -> list[Line]:
    return [read_line(raw) for raw in text.splitlines()]


def flattened(text: str) -> str:
    """The log's lines without their prefixes, joined by single spaces: a message wrapped over several lines (by a
    terminal, a bug tracker or the program itself) reads as one, so a signature's spaces match line breaks too."""
    return re.sub(r"\s+", " ", " ".join(line.text for line in read_lines(text) if line.text))


def find_signature(signature: re.Pattern[str], text: str) -> re.Match[str] | None:
    """The signature in the log as written, else across its wrapped lines and prefixes."""
    return signature.search(text) or signature.search(flattened(text))


def root_cause(text: str) -> str:
    """The innermost error of a log, trimmed: what a failure is called in the matrix.

    Python prints a chain's innermost exception first, so the first exception line that ends a traceback is
    the root cause; a native abort (glog "Check failed", C++ "terminate called after throwing ... what(): ...")
    stops a process before any traceback. Never a traceback frame or a debug-context line (they are indented or
    not exception lines). Each vLLM process's lines are read apart, so tracebacks of two processes interleaved in
    one log stay whole; the process whose failure starts first names it (a worker's error, not the engine core's
    or API server's wrappers of it). A message its program continued on the next lines keeps them.
    """
    lines = read_lines(text)
    processes: dict[str, list[tuple[int, Line]]] = {}
    for number, line in enumerate(lines):
        processes.setdefault(line.process, []).append((number, line))
    causes = [cause for by_process in processes.values() if (cause := _first_error(by_process))]
    if causes:
        return min(causes)[1][:300]
    for number, line in enumerate(lines):
        if EXCEPTION_LINE.match(line.text):
            return _continued(line, processes[line.process], number)[:300]
    records = [line.text for line in lines if line.level in ("ERROR", "CRITICAL") and _before_traceback(line.text)]
    if records:
        return _before_traceback(records[0])[:300]
    errors = [_before_traceback(line.text) for line in lines if ERROR_LINE.search(_before_traceback(line.text))]
    return (errors[-1] if errors else (text.strip().splitlines() or ["(no output)"])[-1].strip())[:300]


def _before_traceback(text: str) -> str:
    """vLLM 0.5 logged a worker's message and "Traceback (most recent call last):" on one line."""
    return text.split(TRACEBACK)[0].rstrip(" ,:(")


def _first_error(lines: list[tuple[int, Line]]) -> tuple[int, str] | None:
    """(where it started, text) of one process's first native abort or traceback-ending exception."""
    started = None
    for position, (number, line) in enumerate(lines):
        if TRACEBACK in line.text:
            started = number if started is None else started
        elif fatal := FATAL_CHECK.search(line.text):
            return number, fatal.group(0)
        elif terminate := TERMINATE.search(line.text):
            return number, _terminate_cause(terminate.group(1), lines[position + 1 : position + 4], line.text)
        elif started is not None and EXCEPTION_LINE.match(line.text):
            return started, _continued(line, lines, number)
    return None


def _terminate_cause(kind: str, following: list[tuple[int, Line]], line: str) -> str:
    for _, candidate in following:
        if what := WHAT.match(candidate.text):
            return f"{kind}: {what.group(1)}"
    return TERMINATE.search(line).group(0)


def _continued(line: Line, lines: list[tuple[int, Line]], number: int) -> str:
    """An exception line with the lines its message runs on to: it ends on a colon (a list follows) or stops
    mid-sentence at a wrapping width, and what follows in the same process is neither indented (a frame, a
    debug context), a new exception nor a new log record."""
    parts = [line.text]
    after = [candidate for at, candidate in lines if at > number][:MAX_CONTINUATION]
    for candidate in after:
        last = parts[-1]
        if not (last.endswith(":") or (len(last) >= WRAP_WIDTH and last[-1].isalnum())):
            break
        text = candidate.text
        if not text or candidate.indent > 1 or NOT_A_CONTINUATION.match(text) or EXCEPTION_LINE.match(text):
            break
        if candidate.logged and not line.logged:
            break
        parts.append(text)
    return " ".join(parts)
