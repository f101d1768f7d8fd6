"""Read the files a user hands over as they are: anything that is not a readable regular file, or not the JSON or
YAML it should be, becomes one InputError naming the file and the cause, never a traceback or a block.

A FIFO or a device would block or never end a read, so the path is stat'ed first and opened non-blocking; the
JSON reader refuses what the JSON standard does (NaN, Infinity, duplicate keys) and what Python's parser cannot
(nesting past its recursion limit).
"""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path
from typing import Any, BinaryIO

from qcompat.errors import InputError

KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _os_cause(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "is missing"
    if exc.errno in (errno.EACCES, errno.EPERM):
        return "cannot be read: permission denied"
    if exc.errno == errno.ELOOP:
        return "cannot be read: a symlink loop"
    if exc.errno == errno.ENOTDIR:
        return "cannot be read: a folder on its path is a file"
    return f"cannot be read: {exc.strerror or exc}"


def kind_of(path: Path) -> str | None:
    """Why a path is not a readable regular file ("is missing", "is not a regular file (a FIFO)", ...); None: it is."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return _os_cause(exc)
    if stat.S_ISREG(mode):
        return None
    return "is not a regular file (" + next((name for test, name in KINDS if test(mode)), "a special file") + ")"


def exists(path: Path) -> bool:
    """Something is there, readable or not (a FIFO, a loop, a file the user may not read)."""
    return kind_of(path) != "is missing"


def _message(cause: str, what: str) -> str:
    return f"{what} {cause}" if what else cause.removeprefix("is ")


def require_file(path: Path, what: str = "") -> None:
    cause = kind_of(path)
    if cause is not None:
        raise InputError(path, _message(cause, what))


def open_regular(path: Path, what: str = "") -> BinaryIO:
    """The file opened for reading, after checking that it is a regular file this user may read; never blocks."""
    require_file(path, what)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InputError(path, _message(_os_cause(exc), what)) from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):  # replaced between the stat and the open
        os.close(fd)
        raise InputError(path, _message("is not a regular file", what))
    return os.fdopen(fd, "rb")


def read_bytes(path: Path, what: str = "") -> bytes:
    with open_regular(path, what) as handle:
        try:
            return handle.read()
        except OSError as exc:
            raise InputError(path, _message(_os_cause(exc), what)) from None


def read_text(path: Path, what: str = "") -> str:
    raw = read_bytes(path, what)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"is not UTF-8 text (byte {exc.start}: {raw[exc.start : exc.start + 1]!r})") from None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON value")


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result = dict(pairs)
    if len(result) != len(pairs):  # rare: only then find which key, in Python
        seen: set[str] = set()
        twice = next(key for key, _ in pairs if key in seen or seen.add(key))
        raise ValueError(f"key {twice!r} appears twice in one object")
    return result


def parse_json(where: Path | str, text: str | bytes, what: str = "JSON") -> Any:
    """Strict JSON: what the standard refuses is refused here, with the position; one line."""
    try:
        return json.loads(text, parse_constant=_refuse_constant, object_pairs_hook=_no_duplicates)
    except json.JSONDecodeError as exc:
        raise InputError(where, f"not valid {what} ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    except UnicodeDecodeError as exc:
        raise InputError(where, f"not valid {what} (not UTF-8 at byte {exc.start})") from None
    except ValueError as exc:
        raise InputError(where, f"not valid {what} ({exc})") from None
    except RecursionError:
        raise InputError(where, f"not usable {what}: nested deeper than a reader can follow") from None


def load_json(path: Path, expect: type | None = dict, what: str = "") -> Any:
    """A JSON file's value; `expect` the type its top level must have (None: any)."""
    loaded = parse_json(path, read_text(path, what))
    if expect is not None and not isinstance(loaded, expect):
        raise InputError(path, f"expected a JSON {_json_name(expect)}, found {_json_name(type(loaded))}")
    return loaded


def _json_name(kind: type) -> str:
    names = {dict: "object", list: "array", str: "string", int: "number", float: "number", bool: "boolean"}
    return names.get(kind, "null" if kind is type(None) else kind.__name__)


def type_name(value: Any) -> str:
    """A JSON or YAML value's type as a user reads it (object, array, string, number, boolean, null)."""
    return _json_name(type(value))


def shown(value: Any) -> str:
    """A value found where another was expected, as an error names it: "string 'abc'", "number 1.5", "array"."""
    return type_name(value) if isinstance(value, (dict, list)) or value is None else f"{type_name(value)} {value!r}"


def load_yaml(path: Path, expect: type | None = dict, what: str = "") -> Any:
    import yaml

    text = read_text(path, what)
    try:
        loaded = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except yaml.YAMLError as exc:
        raise InputError(path, f"not valid YAML ({yaml_problem(exc)})") from None
    except RecursionError:
        raise InputError(path, "not usable YAML: nested deeper than a reader can follow") from None
    if expect is not None and not isinstance(loaded, expect):
        found = "an empty file" if loaded is None else type_name(loaded)
        raise InputError(path, f"expected a YAML mapping, found {found}")
    return loaded


def yaml_problem(exc: Exception) -> str:
    """PyYAML's several-line message as one clause: the problem and where."""
    problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
    context = getattr(exc, "context", None)
    return f"{problem}{where}" + (f" ({context})" if context else "")


def list_dir(path: Path) -> list[Path]:
    try:
        return list(path.iterdir())
    except OSError as exc:
        raise InputError(path, _message(_os_cause(exc), "directory")) from None


def require_writable(path: Path, what: str = "") -> None:
    """Before a long run: the file it ends by writing can be written (opened for appending, and removed again if
    it was not there), so the run does not fail at its end."""
    existed = os.path.lexists(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as exc:
        raise _unwritable(path, exc, what) from None
    if not existed:
        path.unlink()


def write_text(path: Path, text: str, what: str = "") -> None:
    """Write a file the user named (its folder made as needed); a path that cannot take it is one InputError."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise _unwritable(path, exc, what) from None


def _unwritable(path: Path, exc: OSError, what: str) -> InputError:
    cause = "is a directory" if path.is_dir() else _os_cause(exc).replace("cannot be read", "cannot be written")
    return InputError(path, _message(cause, what))
