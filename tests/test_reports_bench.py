"""The report benchmark still runs and prints its figures (tiny sizes; no timing is asserted:
figures belong in BENCHMARKS.md)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent.parent / "bench" / "bench_report.py"


def test_bench_report_runs_and_prints_its_figures(tmp_path: Path) -> None:
    sizes = ["--messages", "400", "--events", "1200", "--outlets", "20", "--runs", "1"]
    done = subprocess.run(
        [sys.executable, str(BENCH), *sizes, "--ingest", "1"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert re.search(r"SQLite: 1,200 events stored in bulk", out), out
    assert re.search(r"summary rebuilt from 1,200 events", out), out
    assert re.search(r"build_report first \d+ ms .* median of 1: \d+ ms", out), out
    assert re.search(r"HTML rendering median \d+ ms", out), out
    assert re.search(r"report of 400 recipients: \d[\d,]* sent", out), out
    assert re.search(r"record_outcomes [\d,]+ events/s", out), out
