"""The benchmarks still run (tiny sizes; no timing is asserted: figures belong in BENCHMARKS.md)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


@pytest.mark.parametrize(
    ("script", "arguments", "figure"),
    [
        ("bench_render.py", ["--messages", "300", "--runs", "1"], r"[\d,]+ messages/s rendered"),
        (
            "bench_send.py",
            ["--recipients", "200", "--runs", "1", "--naive", "50"],
            r"median of 1: .* messages/s(.|\n)*batched engine is [\d.]+x faster",
        ),
        (
            "bench_import.py",
            ["--rows", "500", "--runs", "1", "--no-postgres"],
            r"median of 1: .* rows/s",
        ),
        ("bench_segments.py", ["--contacts", "2000", "--runs", "1"], r"ms\s+[\d,]+\s+beats has"),
        (
            "bench_release_import.py",
            ["--sizes", "10000,40000", "--runs", "1"],
            r"40,000\s+[\d.]+\s+[\d,]+",
        ),
    ],
)
def test_benchmark_runs_and_prints_its_figures(
    tmp_path: Path, script: str, arguments: list[str], figure: str
) -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH / script), *arguments],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr
    assert re.search(figure, done.stdout), done.stdout
