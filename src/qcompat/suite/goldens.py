"""Compare greedy results with the golden recorded for this checkpoint, or record one (--record-golden)."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from qcompat.engines.greedy import Greedy
from qcompat.results.parity import Golden, compare_all


def golden_path(directory: Path, engine: str, identity: str) -> Path:
    return directory / f"{engine}-{identity[:12]}.json"


def stack_versions(*distributions: str) -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    found = {}
    for name in distributions:
        try:
            found[name] = version(name)
        except PackageNotFoundError:
            continue
    return found


def record_greedy(
    config: pytest.Config,
    results: list[Greedy],
    *,
    run: str,
    identity: str,
    stack: dict[str, str],
    max_new_tokens: int,
    top_k: int,
) -> None:
    """Put one engine run's greedy results into the session's results file, for parity across sessions."""
    config.pluginmanager.get_plugin("qcompat-results").greedy.append(
        {
            "run": run,
            "identity": identity,
            "stack": stack,
            "max_new_tokens": max_new_tokens,
            "top_k": top_k,
            "results": [asdict(result) for result in results],
        }
    )


def check_against_golden(
    config: pytest.Config,
    results: list[Greedy],
    *,
    engine: str,
    golden_engine: str,
    identity: str,
    stack: dict[str, str],
    max_new_tokens: int,
    top_k: int,
    notes: list[str],
) -> None:
    """Record `results` as the `engine` golden when asked; otherwise they must match the `golden_engine` golden.
    Either way they go into the session's results, where the report compares them with other sessions' runs."""
    record_greedy(
        config, results, run=engine, identity=identity, stack=stack, max_new_tokens=max_new_tokens, top_k=top_k
    )
    record = config.getoption("--record-golden")
    if record:
        golden = Golden(engine, stack, {"identity": identity}, max_new_tokens, top_k, results)
        golden.save(golden_path(Path(record), engine, identity))
        notes.append(f"recorded golden {golden_path(Path(record), engine, identity)}")
        return
    path = golden_path(Path(config.getoption("--goldens")), golden_engine, identity)
    if not path.is_file():
        pytest.skip(f"not run: no {golden_engine} golden recorded for checkpoint {identity[:12]} ({path})")
    golden = Golden.load(path, identity=identity)
    summary = compare_all(golden.results, results)
    notes.append(
        f"{engine} vs golden {golden_engine} ({', '.join(f'{k} {v}' for k, v in golden.stack.items())}): "
        + summary.text().splitlines()[0]
    )
    assert summary.verdicts["diverged"] == 0, f"{engine} diverges from the {golden_engine} golden:\n{summary.text()}"
