"""Log forensics: the root cause of a failure in a server log, the line the matrix names it by."""

from __future__ import annotations

import re

ERROR_LINE = re.compile(r"(Error|Exception|Check failed|error:|FAILED|Traceback)")
# What vLLM and torch put before a line: "(Worker pid=1) ERROR 11-29 05:47:47 [file.py:1063] ",
# "[rank0]:E1129 06:01:26.757000 13909 path/file.py:2908] [0/0] ".
LOG_PREFIX = re.compile(
    r"^(\([\w-]+ pid=\d+\)\s*)?"
    r"((DEBUG|INFO|WARNING|ERROR|CRITICAL) \d\d-\d\d [\d:]+ \[[^\]]*\]\s?)?"
    r"(\[rank\d+\]:[A-Z]\d{4} [\d:.]+ \d+ \S+\] (\[[\d/]+\] )?)?"
)
EXCEPTION_LINE = re.compile(
    r"^(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit|Interrupt|Unsupported)(?::\s.*)?$"
)
FATAL_CHECK = re.compile(r"(\S+:\d+\] )?Check failed: .*")
TRACEBACK = "Traceback (most recent call last)"


def _strip(line: str) -> str:
    return LOG_PREFIX.sub("", line.strip(), count=1).strip()


PROCESS = re.compile(r"^\(([\w-]+ pid=\d+)\)")


def root_cause(text: str) -> str:
    """The innermost error of a log, trimmed: what a failure is called in the matrix.

    Python prints a chain's innermost exception first, so the first exception line that ends a traceback is
    the root cause; a native fatal check (glog "Check failed") aborts before any traceback. Never a traceback
    frame or a debug-context line (they are indented or not exception lines). Each vLLM process's lines
    ("(EngineCore_DP0 pid=7) ...") are read apart, so tracebacks of two processes interleaved in one log stay
    whole; the process whose traceback starts first names the failure (a worker's error, not the engine core's
    or API server's wrappers of it).
    """
    raw_lines = text.splitlines()
    lines = [_strip(line) for line in raw_lines]
    processes: dict[str, list[tuple[int, str]]] = {}
    for number, (raw, line) in enumerate(zip(raw_lines, lines)):
        process = PROCESS.match(raw.strip())
        processes.setdefault(process.group(1) if process else "", []).append((number, line))
    causes = [cause for by_process in processes.values() if (cause := _first_error(by_process))]
    if causes:
        return min(causes)[1][:300]
    exceptions = [line for line in lines if EXCEPTION_LINE.match(line)]
    if exceptions:
        return exceptions[0][:300]
    errors = [line for line in lines if ERROR_LINE.search(line) and TRACEBACK not in line]
    return (errors[-1] if errors else (text.strip().splitlines() or ["(no output)"])[-1].strip())[:300]


def _first_error(lines: list[tuple[int, str]]) -> tuple[int, str] | None:
    """(where it started, text) of one process's first fatal check or traceback-ending exception."""
    started = None
    for number, line in lines:
        if TRACEBACK in line:
            started = number if started is None else started
        elif fatal := FATAL_CHECK.search(line):
            return number, fatal.group(0)
        elif started is not None and EXCEPTION_LINE.match(line):
            return started, line
    return None
