"""`qcompat inspect`: exit 0 conforms (warnings allowed), 1 a rule is broken, 2 unusable input."""

from __future__ import annotations

import argparse
import json
import sys

from qcompat.errors import QcompatError
from qcompat.fixtures import tiny_int4

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qcompat", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="check a checkpoint's layout against its profile")
    inspect.add_argument(
        "path", nargs="?", default=None, help="checkpoint directory or cached Hub repo id (default: the tiny INT4)"
    )
    inspect.add_argument(
        "--profile", default=None, help="NAME or NAME:VARIANT (default: gemma-4-12b-it-int4-mlponly, variant by sizes)"
    )
    inspect.add_argument(
        "--numerics", action="store_true", help="also stream the packed weights and check their values"
    )
    inspect.add_argument("--json", action="store_true", help="print the result as JSON")
    return parser


def _inspect(args: argparse.Namespace) -> int:
    from qcompat.inspection import inspect_checkpoint

    path = args.path or tiny_int4()
    if args.json:
        result = inspect_checkpoint(path, args.profile, args.numerics)
        print(json.dumps(result.to_dict(), indent=2))
        return EXIT_OK if result.ok else EXIT_FAILED
    from rich.console import Console

    from qcompat.summary import render

    if args.numerics:
        with Console(stderr=True).status("numerics") as status:
            result = inspect_checkpoint(path, args.profile, True, lambda module: status.update(f"numerics: {module}"))
    else:
        result = inspect_checkpoint(path, args.profile)
    render(result, Console())
    return EXIT_OK if result.ok else EXIT_FAILED


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _inspect(args)
    except QcompatError as exc:
        print(f"qcompat: error: {exc}", file=sys.stderr)
        return EXIT_UNUSABLE
    except KeyboardInterrupt:
        print("qcompat: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
