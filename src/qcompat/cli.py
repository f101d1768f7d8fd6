"""qcompat inspect | expect | triage | upstream | report | gate | provenance | sweep-table | fetch | quality.

Exit 0 ok, 1 checks failed, 2 unusable input or environment.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import NamedTuple

from qcompat import inputs
from qcompat.errors import QcompatError
from qcompat.fixtures import tiny_int4

EXIT_OK, EXIT_FAILED, EXIT_UNUSABLE = 0, 1, 2
PLANNED_PACKAGES = ("vllm", "transformers", "torch", "gptqmodel")  # what `expect` takes a planned version of


def _stack_flags(command: argparse.ArgumentParser, whose: str) -> None:
    """The stack flags `expect` and `triage` share: versions, device, GPU, CUDA, CPU flags, environment, tools."""
    from qcompat.env.devices import STACK_DEVICES

    command.add_argument("--checkpoint", default=None, help="checkpoint directory (default: the tiny INT4)")
    for package in PLANNED_PACKAGES:
        command.add_argument(f"--{package}", metavar="VERSION", help=f"{whose} {package} version")
    command.add_argument("--device", choices=STACK_DEVICES, help="default: cuda when --gpu-cc or --cuda is given")
    command.add_argument("--gpu-cc", metavar="MAJOR.MINOR", help="the GPU's compute capability (RTX 5090: 12.0)")
    command.add_argument("--cuda", metavar="MAJOR.MINOR", help="the CUDA toolkit (nvcc) version")
    command.add_argument(
        "--cpu-flags",
        metavar="FLAGS",
        help="e.g. avx2,avx512f, or the flags line of /proc/cpuinfo or lscpu"
        + (" (default: this CPU's)" if whose == "planned" else ""),
    )
    command.add_argument("--env", action="append", default=[], metavar="KEY=VALUE", help="the server's environment")
    for tool in ("nvcc", "ninja"):
        command.add_argument(
            f"--{tool}",
            action=argparse.BooleanOptionalAction,
            default=None,
            help=f"whether {tool} is there (FlashInfer's JIT; vLLM >= 0.34 checks); default: "
            + ("this machine's" if tool == "nvcc" else "there (flashinfer-python requires it)"),
        )


def _inspect_arguments(inspect: argparse.ArgumentParser) -> None:
    inspect.add_argument(
        "path",
        nargs="?",
        default=None,
        help="checkpoint directory or Hub repo ORG/NAME[@REVISION] (default: the tiny INT4)",
    )
    inspect.add_argument(
        "--profile", default=None, help="NAME or NAME:VARIANT (default: gemma-4-12b-it-int4-mlponly, variant by sizes)"
    )
    inspect.add_argument(
        "--numerics", action="store_true", help="also stream the packed weights and check their values"
    )
    inspect.add_argument(
        "--remote",
        action="store_true",
        help="PATH is ORG/NAME[@REVISION] on the Hub: fetch its configs and only the safetensors headers",
    )
    inspect.add_argument("--json", action="store_true", help="print the result as JSON")


def _expect_arguments(expect: argparse.ArgumentParser) -> None:
    _stack_flags(expect, "planned")
    expect.add_argument("--json", action="store_true", help="print the expectation as JSON")


def _triage_arguments(triage: argparse.ArgumentParser) -> None:
    triage.add_argument("log", metavar="LOG", help="a server or test log (- for standard input)")
    _stack_flags(triage, "the log's")
    triage.add_argument("--json", action="store_true", help="print the triage as JSON")


def _report_arguments(report: argparse.ArgumentParser) -> None:
    report.add_argument("results", nargs="?", default="results", help="directory of <session>.json files")
    report.add_argument("--markdown", action="store_true", help="print Markdown ready to paste into the model card")
    report.add_argument("--json", action="store_true", help="print the matrix as JSON")
    report.add_argument(
        "--full", action="store_true", help="print the whole table (default: the verdict, then what is not green)"
    )
    report.add_argument("--html", metavar="FILE", help="also write the matrix as one self-contained HTML page")
    report.add_argument(
        "--history", nargs="+", default=[], metavar="DIR", help="earlier runs' results, shown per check in the page"
    )


def _gate_arguments(gate: argparse.ArgumentParser) -> None:
    gate.add_argument("results", nargs="?", default="results")
    gate.add_argument("--require", default="", help="comma-separated sessions that must have run")
    gate.add_argument(
        "--baseline",
        metavar="DIR",
        help="an earlier run's results (last night's): a greedy divergence from it fails, and so does quality"
        " beyond the profile's tolerance of it",
    )


def _provenance_arguments(provenance: argparse.ArgumentParser) -> None:
    provenance.add_argument("--registry", default=None, help="default: the shipped fixtures/known_issues.yaml")
    provenance.add_argument("--replay", metavar="RECORD", help="check offline against a record's excerpts")
    provenance.add_argument(
        "--write", metavar="RECORD", help="write what was found (fixtures/known_issues.provenance.yaml)"
    )
    provenance.add_argument("--cache", default=None, help="where wheels are kept (default: ~/.cache/qcompat/wheels)")


def _sweep_table_arguments(sweep: argparse.ArgumentParser) -> None:
    sweep.add_argument("results", nargs="?", default="results/sweep", help="directory of one <release>.json each")
    sweep.add_argument("--write", metavar="FILE", help="also write the table there")


def _fetch_arguments(fetch: argparse.ArgumentParser) -> None:
    fetch.add_argument("spec", metavar="ORG/NAME[@REVISION]")


def _upstream_arguments(upstream: argparse.ArgumentParser) -> None:
    upstream.add_argument("--replay", metavar="RECORD", help="answer from a record of the index, offline")
    upstream.add_argument(
        "--record", metavar="RECORD", help="what moved is against this (default: fixtures/upstream.yaml)"
    )
    upstream.add_argument("--write", metavar="RECORD", help="write today's answers as the new record")
    upstream.add_argument("--stacks", metavar="TOML", default="stacks/stacks.toml", help="the pinned stacks to hold")
    upstream.add_argument("--json", action="store_true", help="print the survey as JSON")


def _quality_arguments(quality: argparse.ArgumentParser) -> None:
    quality.add_argument("checkpoint", metavar="CHECKPOINT", help="the quantized checkpoint's directory")
    quality.add_argument("--base", required=True, metavar="BASE", help="its unquantized base's directory")
    quality.add_argument(
        "--corpus",
        metavar="FILE",
        help="one text per line, or YAML of prose and chats (default: the tiny's sentences for the tiny family,"
        " else fixtures/quality/corpus.yaml through the checkpoint's chat template)",
    )
    quality.add_argument("--json", action="store_true", help="print the figures as JSON, each metric by name")


def _record_not_run_arguments(not_run: argparse.ArgumentParser) -> None:
    not_run.add_argument("--session", required=True)
    not_run.add_argument("--reason", required=True)
    not_run.add_argument("--results", help="the results file to write (default: results/<session>.json)")


def _known_issues(checkpoint, key: str) -> list[str]:
    """The registry's lines for a checkpoint lacking a config key; the registry is read only when a finding asks."""
    from qcompat.registry.load import known_issues_lacking

    return known_issues_lacking(checkpoint, key)


def _inspect(args: argparse.Namespace) -> int:
    from qcompat.inspection.run import inspect_checkpoint

    path = args.path or tiny_int4()
    options = {"remote": args.remote, "known_issues": _known_issues}
    if args.json:
        result = inspect_checkpoint(path, args.profile, args.numerics, **options)
        print(json.dumps(result.to_dict(), indent=2))
        return EXIT_OK if result.ok else EXIT_FAILED
    from rich.console import Console

    from qcompat.inspection.render import render

    if args.numerics:
        with Console(stderr=True).status("numerics") as status:
            result = inspect_checkpoint(
                path, args.profile, True, lambda module: status.update(f"numerics: {module}"), **options
            )
    else:
        result = inspect_checkpoint(path, args.profile, **options)
    render(result, Console())
    return EXIT_OK if result.ok else EXIT_FAILED


def _expect(args: argparse.Namespace) -> int:
    from qcompat.checkpoint.local import read_checkpoint
    from qcompat.env.probe import probe
    from qcompat.registry.expect import expect, plan
    from qcompat.registry.expect_render import as_json
    from qcompat.registry.issues import checkpoint_facts
    from qcompat.registry.load import default_registry
    from qcompat.upstream.requirements import default_lookup, impossible

    checkpoint = read_checkpoint(args.checkpoint or tiny_int4())
    versions = {name: getattr(args, name) for name in PLANNED_PACKAGES}
    planned = plan(
        versions,
        device=args.device,
        gpu_cc=args.gpu_cc,
        cuda=args.cuda,
        cpu_flags=args.cpu_flags,
        env=args.env,
        tools={"nvcc": args.nvcc, "ninja": args.ninja},
        machine=probe(),
    )
    broken, unread = impossible(planned, default_lookup())
    if broken:
        raise QcompatError("no installer can make this stack: " + "; ".join(broken))
    facts = checkpoint_facts(checkpoint)
    result = expect(default_registry(), planned, facts)
    result.unread = unread
    if args.json:
        print(json.dumps(as_json(planned, checkpoint.root, facts, result), indent=2, default=str))
        return result.exit_code
    from qcompat.registry.expect_render import lines

    print("\n".join(lines(planned, checkpoint.root, facts, result)))
    return result.exit_code


def _triage(args: argparse.Namespace) -> int:
    from qcompat.checkpoint.local import read_checkpoint
    from qcompat.env.probe import Stack
    from qcompat.registry.expect import plan
    from qcompat.registry.issues import checkpoint_facts
    from qcompat.registry.load import default_registry
    from qcompat.registry.triage import log_facts, triage
    from qcompat.registry.triage_render import as_json, lines

    log = Path(args.log)
    raw = sys.stdin.buffer.read() if args.log == "-" else inputs.read_bytes(log, "log")
    if b"\0" in raw[:65536]:
        raise QcompatError(f"{log}: holds NUL bytes: a binary file, not a log")
    text = raw.decode("utf-8", errors="replace")  # a log with a stray byte is still a log
    if not text.strip():
        raise QcompatError(f"{log}: the log is empty")
    read = log_facts(text)
    versions = {**read.versions, **{name: v for name in PLANNED_PACKAGES if (v := getattr(args, name))}}
    versions = {name: v for name, v in versions.items() if name in PLANNED_PACKAGES}
    device = args.device or read.device
    if device is None and (args.gpu_cc or args.cuda):
        device = "cuda"
    planned = plan(
        versions,
        device=device or "cpu",
        gpu_cc=args.gpu_cc,
        cuda=args.cuda or (read.cuda if device == "cuda" else None),
        cpu_flags=args.cpu_flags,
        env=[f"{k}={v}" for k, v in read.env.items()] + args.env,
        tools={"nvcc": args.nvcc, "ninja": args.ninja},
        machine=Stack(),
    )
    if args.cpu_flags is None:
        planned.stack.cpu = None  # the log's machine is not this one
    facts = checkpoint_facts(read_checkpoint(args.checkpoint or tiny_int4()))
    result = triage(default_registry(), text, planned, device is not None, facts)
    if args.json:
        print(json.dumps(as_json(planned, log, result), indent=2, default=str))
    else:
        print("\n".join(lines(planned, log, result)))
    return result.exit_code


def _report(args: argparse.Namespace) -> int:
    from qcompat.results import files, matrix
    from qcompat.results.gate import gate

    if args.history and not args.html:
        raise QcompatError("--history is shown in the HTML page only: give --html FILE too")
    sessions = files.load_all(Path(args.results))
    table = matrix.matrix(sessions)
    if args.html:
        from qcompat.results.html import Run, page, run_label

        history = []
        for directory in args.history:
            earlier = matrix.matrix(files.load_all(Path(directory)))
            history.append(Run(run_label(earlier, directory), earlier))
        inputs.write_text(Path(args.html), page(table, history), "--html file")
        print(f"wrote {args.html} ({len(history)} earlier runs)", file=sys.stderr)
    if args.json:
        print(json.dumps(table, indent=2))
    elif args.markdown:
        print(matrix.markdown(table))
    elif args.full:
        from rich.console import Console

        matrix.render_table(table, Console(width=None if sys.stdout.isatty() else 220))
    else:
        print("\n".join(matrix.brief(table, gate(sessions, []))))
    return EXIT_OK


def _gate(args: argparse.Namespace) -> int:
    from qcompat.results.files import load_all
    from qcompat.results.gate import gate

    required = [name for name in args.require.split(",") if name]
    tonight = load_all(Path(args.results))
    pairs, quality = [], []
    if args.baseline:
        from qcompat.results import session_quality
        from qcompat.results.session_parity import against_baseline, runs_of

        baseline = load_all(Path(args.baseline))
        pairs, missing = against_baseline(runs_of(tonight), runs_of(baseline))
        quality, lacking = session_quality.against_baseline(
            session_quality.quality_of(tonight), session_quality.quality_of(baseline)
        )
        for line in [pair.line() for pair in pairs] + missing + [c.line() for c in quality] + lacking:
            print(f"gate: baseline: {line}")
    reasons = gate(tonight, required, pairs, quality)
    for reason in reasons:
        print(f"gate: {reason}")
    print("gate: FAILED" if reasons else f"gate: passed ({', '.join(required) or 'no required sessions'})")
    return EXIT_FAILED if reasons else EXIT_OK


def _fetch(args: argparse.Namespace) -> int:
    from qcompat.checkpoint.hub import download, source
    from qcompat.checkpoint.local import read_checkpoint

    snapshot = download(args.spec)
    try:
        read_checkpoint(snapshot)  # what came is a checkpoint: configs and safetensors headers as the format says
    except QcompatError as exc:
        raise QcompatError(f"{args.spec}: fetched into {snapshot}, but unusable: {exc}") from None
    print(f"{snapshot}  (commit {source(args.spec, snapshot)['commit']})")
    return EXIT_OK


def _provenance(args: argparse.Namespace) -> int:
    from qcompat.fixtures import fixtures_dir
    from qcompat.registry import provenance, provenance_record
    from qcompat.registry.load import load_registry, read_yaml

    path = Path(args.registry) if args.registry else fixtures_dir() / "known_issues.yaml"
    load_registry(path)  # every entry valid, and the record writable, before any wheel is read
    if args.write:
        inputs.require_writable(Path(args.write), "--write file")
    raw = read_yaml(path)
    if args.replay:
        source = provenance_record.RecordedWheels(read_yaml(Path(args.replay)), args.replay)
    else:
        from qcompat.registry.wheels import PyPI

        source = PyPI(Path(args.cache) if args.cache else None)
    reports = provenance.check_registry(raw, source, progress=lambda m: print(m, file=sys.stderr))
    failures = [line for report in reports for line in report.failures()]
    for report in reports:
        checked = sorted(
            {f"{f.check.claim.package} {f.version or '?'}" for f in report.findings}
            | {f"{f.check.claim.pinned_by[0]} {f.check.version}" for f in report.findings if f.check.claim.pinned_by}
        )
        status = "FAILED" if report.failures() else "known" if report.known() else "ok"
        print(f"{status:6} {report.entry['id']}: {len(report.findings)} checks in {', '.join(checked) or 'no wheel'}")
    for line in [line for report in reports for line in report.known()]:
        print(f"provenance: known: {line}")
    for line in failures:
        print(f"provenance: {line}")
    if args.write:
        import yaml

        data = provenance_record.record(reports, source, str(path.name))
        inputs.write_text(
            Path(args.write), yaml.safe_dump(data, sort_keys=False, width=120, allow_unicode=True), "--write file"
        )
        print(f"provenance: recorded in {args.write}")
    return EXIT_FAILED if failures else EXIT_OK


def _sweep_table(args: argparse.Namespace) -> int:
    from qcompat.registry.load import default_registry
    from qcompat.results import sweep

    registry = default_registry()
    swept = sweep.releases(Path(args.results))
    table = sweep.markdown(swept, registry)
    print(table, end="")
    if args.write:
        inputs.write_text(Path(args.write), table, "--write file")
    reasons = sweep.disagreements(swept, registry)
    for reason in reasons:
        print(f"sweep: {reason}")
    return EXIT_FAILED if reasons else EXIT_OK


def _record_not_run(args: argparse.Namespace) -> int:
    from qcompat.env.probe import probe
    from qcompat.env.sessions import session_name
    from qcompat.results import files

    session = session_name(args.session)
    path = Path(args.results or f"results/{session}.json")
    files.write(path, files.not_run(session, args.reason, probe().to_dict()))
    print(f"{args.session}: not run: {args.reason} ({path})")
    return EXIT_OK


def _quality(args: argparse.Namespace) -> int:
    from qcompat.checkpoint.local import read_checkpoint
    from qcompat.inspection.run import profile_for
    from qcompat.quality.corpus import corpus_for
    from qcompat.quality.figures import summarize

    checkpoint, _ = read_checkpoint(args.checkpoint), read_checkpoint(args.base)  # both before an engine loads
    is_tiny = profile_for(checkpoint, None).variant == "tiny"
    try:
        corpus = corpus_for(Path(args.checkpoint), is_tiny, Path(args.corpus) if args.corpus else None)
        from qcompat.engines import hf
        from qcompat.quality.hf import positions

        loaded = [hf.load(Path(path)) for path in (args.checkpoint, args.base)]
    except ImportError as exc:
        raise QcompatError(
            f"qcompat quality runs both checkpoints with transformers ({exc.name} is not installed here): run it"
            " inside the transformers stack's venv (.nox/transformers/bin/qcompat after nox -s transformers)"
        ) from None
    figures = summarize(positions(*loaded, list(corpus.texts)))
    if args.json:
        print(json.dumps({"checkpoint": args.checkpoint, "base": args.base, "corpus": corpus.name} | figures.to_dict()))
    else:
        print(
            f"{args.checkpoint} against {args.base} over {figures.tokens} tokens of {corpus.name}:\n"
            f"  perplexity {figures.ppl:.4f} (base {figures.base_ppl:.4f}, ratio {figures.ppl_ratio:.4f})\n"
            f"  KL divergence mean {figures.kld_mean:.6f}, p99 {figures.kld_p99:.6f} nats\n"
            f"  top-1 agreement {figures.top1_agreement:.2%}"
        )
    return EXIT_OK


def _upstream(args: argparse.Namespace) -> int:
    from qcompat.upstream.watch import survey_index

    progress = (lambda message: None) if args.json else (lambda message: print(message, file=sys.stderr))
    paths = [Path(given) if given else None for given in (args.record, args.replay, args.write)]
    survey = survey_index(Path(args.stacks), *paths, progress)
    attention = survey.needs_a_person()
    if args.json:
        print(json.dumps(survey.to_dict() | {"needs_a_person": attention}, indent=2))
    else:
        print("\n".join(survey.lines()))
        for line in attention:
            print(f"upstream: needs a person: {line}")
    return EXIT_FAILED if attention else EXIT_OK


class Command(NamedTuple):
    help: str
    arguments: Callable[[argparse.ArgumentParser], None]
    run: Callable[[argparse.Namespace], int]


COMMANDS = {
    "inspect": Command("check a checkpoint's layout against its profile", _inspect_arguments, _inspect),
    "expect": Command(
        "what the known-issue registry expects of a checkpoint on a stack you plan, before installing",
        _expect_arguments,
        _expect,
    ),
    "triage": Command(
        "what a failure log is: its root cause, the known issue that explains it, or new", _triage_arguments, _triage
    ),
    "report": Command("the compatibility matrix of a results directory", _report_arguments, _report),
    "gate": Command("exit 1 on any new failure, unexpected pass or missing required session", _gate_arguments, _gate),
    "provenance": Command(
        "check each registry entry's claims in the vendor's released wheels (downloads them)",
        _provenance_arguments,
        _provenance,
    ),
    "sweep-table": Command(
        "the release sweep's table (nox -s sweep), for the model card", _sweep_table_arguments, _sweep_table
    ),
    "fetch": Command(
        "download a Hub checkpoint ORG/NAME[@REVISION] into the cache, print its path", _fetch_arguments, _fetch
    ),
    "upstream": Command(
        "the newest releases on the index, whether they install, the pins behind them, what moved",
        _upstream_arguments,
        _upstream,
    ),
    "quality": Command(
        "perplexity, KL divergence and top-1 agreement of a checkpoint against its base (transformers)",
        _quality_arguments,
        _quality,
    ),
    "record-not-run": Command(
        "write a session's results saying why it could not run here", _record_not_run_arguments, _record_not_run
    ),
}


def _parser(argv: list[str]) -> argparse.ArgumentParser:
    """The command argv names with its arguments, else every command for the choice and the help: building all of
    them cost an inspection of the full-scale layout a twentieth of its instructions."""
    parser = argparse.ArgumentParser(prog="qcompat", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    named = argv[0] if argv and argv[0] in COMMANDS else None
    for name in [named] if named else COMMANDS:
        command = subparsers.add_parser(name, help=COMMANDS[name].help)
        if named:
            COMMANDS[name].arguments(command)
    return parser


def _fail(args: argparse.Namespace, message: str, code: int) -> int:
    """One line on stderr; under --json also the error as JSON on stdout, where a machine reads the answer."""
    print(f"qcompat: error: {message}", file=sys.stderr)
    if getattr(args, "json", False):
        print(json.dumps({"error": message, "exit_code": code}))
    return code


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = _parser(argv).parse_args(argv)
    try:
        return COMMANDS[args.command].run(args)
    except QcompatError as exc:
        return _fail(args, " ".join(str(exc).split()), EXIT_UNUSABLE)
    except KeyboardInterrupt:
        print("qcompat: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
