"""The in-process runner the CLI tests use behaves as a new ``distro`` process would, and leaves
the test process as it found it: otherwise a test would pass or fail by what ran before it."""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

import pytest

from distro.cli import output
from tests.cli_support import run, run_process


def process_state() -> tuple[object, ...]:
    """What a command could change in the process that runs it."""
    root = logging.getLogger()
    return (
        Path.cwd(),
        dict(os.environ),
        list(sys.argv),
        sys.excepthook,
        root.handlers[:],
        root.level,
        dict(output.console.__dict__),
        dict(output.errors.__dict__),
    )


def test_run_leaves_the_test_process_as_it_found_it(tmp_path: Path) -> None:
    before = process_state()
    done = run(tmp_path, "--verbose", "init", env={"COLUMNS": "123", "NO_COLOR": "1"})
    assert done.returncode == 0, done.stderr
    assert process_state() == before


def test_the_machine_s_distro_variables_are_not_seen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DISTRO_DATABASE__URL", f"sqlite:///{tmp_path / 'elsewhere.db'}")
    done = run(tmp_path, "init")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "distro.db").is_file()
    assert not (tmp_path / "elsewhere.db").exists()


def test_verbose_logs_to_stderr_each_time_as_a_process_does(tmp_path: Path) -> None:
    process = run_process(tmp_path, "--verbose", "init")
    assert process.returncode == 0, process.stderr
    assert "INFO alembic" in process.stderr
    for _ in range(2):  # the second run configures logging afresh too
        done = run(tmp_path, "--verbose", "init")
        assert done.returncode == 0, done.stderr
        assert "INFO alembic" in done.stderr
    quiet = run(tmp_path, "init")
    assert quiet.stderr == ""


def test_a_refused_command_is_one_line_and_status_1_as_from_the_script(tmp_path: Path) -> None:
    in_process = run(tmp_path, "report", "1")
    script = run_process(tmp_path, "report", "1")
    assert (in_process.returncode, in_process.stderr) == (script.returncode, script.stderr)
    assert in_process.returncode == 1
    assert in_process.stderr.startswith("error: ")


def test_the_table_width_follows_columns(tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    assert run(tmp_path, "release", "create", "--sample").returncode == 0  # a long title
    widths = []
    for columns in ("60", "140"):
        done = run(tmp_path, "release", "list", env={"COLUMNS": columns, "NO_COLOR": "1"})
        assert done.returncode == 0, done.stderr
        widths.append(max(len(line) for line in done.stdout.splitlines()))
    narrow, wide = widths
    assert narrow <= 60 < wide <= 140
