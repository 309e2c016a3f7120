"""Progress for long work, through the real CLI: a Rich bar on a terminal (a pseudo-terminal
here) for `contacts import` and `send watch`; nothing but the usual output with --json or into
a pipe, where `send watch` prints one final line (or JSON)."""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli_support import DISTRO, clean_env, free_port, run, start, stop, wait_http
from tests.test_cli import write_csv
from tests.waiting import wait_until

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
ROWS = 1200
SAMPLE_RECIPIENTS = 27  # valid rows in distro/samples/contacts.csv


def on_terminal(cwd: Path, *args: str, timeout: float = 120) -> str:
    """``distro ARGS`` with a pseudo-terminal as stdout and stderr; its output, colours removed."""
    leader, follower = os.openpty()
    process = subprocess.Popen(
        [DISTRO, *args],
        cwd=cwd,
        env=clean_env(TERM="xterm-256color", COLUMNS="160"),
        stdin=subprocess.DEVNULL,
        stdout=follower,
        stderr=follower,
    )
    os.close(follower)
    chunks: list[bytes] = []
    try:
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # EIO: the process closed the terminal
                break
            if not chunk:
                break
            chunks.append(chunk)
    finally:
        os.close(leader)
        process.wait(timeout=timeout)
    assert process.returncode == 0, b"".join(chunks).decode(errors="replace")
    return ANSI.sub("", b"".join(chunks).decode(errors="replace"))


@pytest.fixture
def big_csv(tmp_path: Path) -> Path:
    assert run(tmp_path, "init").returncode == 0
    rows = [("Email", "First name", "Outlet")]
    rows += [(f"reporter{i}@wire.example", f"Reporter {i}", "Wire") for i in range(ROWS)]
    return write_csv(tmp_path / "press.csv", rows)


def test_contacts_import_shows_a_bar_on_a_terminal_only(tmp_path: Path, big_csv: Path) -> None:
    shown = on_terminal(tmp_path, "contacts", "import", big_csv.name, "--dry-run")
    assert "Importing" in shown
    assert f"{ROWS + 1}/{ROWS + 1}" in shown  # every line of the file, header included
    assert f"Would import {ROWS}" in shown

    piped = run(tmp_path, "contacts", "import", big_csv.name, "--dry-run")
    assert piped.returncode == 0, piped.stderr
    assert "Importing" not in piped.stdout + piped.stderr
    assert piped.stdout.startswith(f"Would import {ROWS}")

    as_json = on_terminal(tmp_path, "contacts", "import", big_csv.name, "--json")
    assert "Importing" not in as_json
    assert json.loads(as_json)["imported"] == ROWS


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Path]:
    port = free_port()
    serve = start(tmp_path, "serve", "--port", str(port), "--with-samples")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        yield tmp_path
    finally:
        stop(serve)


def test_send_watch_follows_a_send_to_its_end(served: Path) -> None:
    scheduled = run(served, "send", "schedule", "1", "--list", "sample-journalists", "--json")
    assert scheduled.returncode == 0, scheduled.stderr
    send_id = str(json.loads(scheduled.stdout)["send_id"])

    shown = on_terminal(served, "send", "watch", send_id, "--interval", "0.2")
    assert f"Send {send_id}" in shown
    assert f"{SAMPLE_RECIPIENTS}/{SAMPLE_RECIPIENTS}" in shown
    assert " delivered" in shown

    # The watch ends when every message is handed over; the sandbox's delivery webhooks may
    # still be on their way then, so the final figures are read once they have all arrived.
    def all_delivered() -> bool:
        watched = run(served, "send", "watch", send_id, "--json")
        return bool(json.loads(watched.stdout)["delivered"] == SAMPLE_RECIPIENTS)

    wait_until(all_delivered, interval=0.2, waiting_for="every delivery webhook")
    piped = run(served, "send", "watch", send_id)
    assert piped.returncode == 0, piped.stderr
    assert piped.stdout.splitlines() == [
        f"send {send_id} sent: {SAMPLE_RECIPIENTS} recipients, {SAMPLE_RECIPIENTS} sent, "
        f"{SAMPLE_RECIPIENTS} delivered, 0 failed, 0 uncertain, 0 pending"
    ]
    final = json.loads(run(served, "send", "watch", send_id, "--json").stdout)
    assert final["finished"] is True
    assert (final["sent"], final["failed"], final["uncertain"]) == (SAMPLE_RECIPIENTS, 0, 0)


def test_send_watch_gives_up_at_its_timeout_and_says_so(tmp_path: Path, big_csv: Path) -> None:
    assert run(tmp_path, "contacts", "import", big_csv.name, "--list", "press").returncode == 0
    assert run(tmp_path, "release", "create", "--sample").returncode == 0
    assert run(tmp_path, "release", "approve", "1").returncode == 0
    later = ("--at", "2031-01-05 09:00 UTC")
    assert run(tmp_path, "send", "schedule", "1", "--list", "press", *later).returncode == 0
    waited = run(tmp_path, "send", "watch", "1", "--timeout", "0.3", "--interval", "0.1")
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout.strip() == (
        "send 1 scheduled: 0 recipients, 0 sent, 0 delivered, 0 failed, 0 uncertain, 0 pending "
        "(still going after 0.3 s)"
    )
    missing = run(tmp_path, "send", "watch", "99", "--timeout", "0")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: send 99 does not exist (see `distro send list`)"
