"""distro as a user runs it: real processes, real ports, the installed console script."""

from __future__ import annotations

import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cli_support import (
    DISTRO,
    clean_env,
    free_port,
    run,
    run_json,
    run_process,
    start,
    stop,
    wait_http,
)

SAMPLE_RECIPIENTS = 27  # valid rows in distro/samples/contacts.csv


def poll_report(cwd: Path, send_id: int, done: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        report: dict[str, Any] = run_json(cwd, "report", str(send_id), "--format", "json")
        if report[done] >= SAMPLE_RECIPIENTS or time.monotonic() > deadline:
            return report
        time.sleep(0.5)


@pytest.fixture
def background(tmp_path: Path) -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        stop(process, timeout=20)


def test_demo_delivers_to_every_valid_sample_contact(tmp_path: Path) -> None:
    report = run_json(tmp_path, "demo", "--json")
    assert report["recipients"] == SAMPLE_RECIPIENTS
    assert report["sent"] == report["delivered"] == SAMPLE_RECIPIENTS
    assert report["failed"] == report["bounced"] == report["uncertain"] == 0
    assert list(tmp_path.iterdir()) == []  # the demo leaves the working directory alone


def test_serve_answers_and_sends_with_samples(
    tmp_path: Path, background: list[subprocess.Popen[str]]
) -> None:
    port = free_port()
    serve = subprocess.Popen(
        [DISTRO, "serve", "--port", str(port), "--with-samples"],
        cwd=tmp_path,
        env=clean_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    background.append(serve)
    base = f"http://127.0.0.1:{port}"
    assert wait_http(f"{base}/healthz").json()["status"] == "ok"
    assert "distro is running" in httpx.get(f"{base}/", timeout=5).text
    assert httpx.get(f"{base}/sandbox/", timeout=5).status_code == 200
    scheduled = run_json(
        tmp_path, "send", "schedule", "1", "--list", "sample-journalists", "--json"
    )
    report = poll_report(tmp_path, scheduled["send_id"], "delivered")
    assert report["delivered"] == report["sent"] == SAMPLE_RECIPIENTS
    serve.send_signal(signal.SIGINT)
    output, _ = serve.communicate(timeout=30)
    assert serve.returncode == 0, output
    assert f"{base}/" in output  # the URL to open was printed
    assert "Traceback" not in output


def test_worker_exits_when_idle_against_a_standalone_sandbox(
    tmp_path: Path, background: list[subprocess.Popen[str]]
) -> None:
    sandbox_port = free_port()
    (tmp_path / "config.toml").write_text(
        f'[providers.sandbox]\ntype = "sandbox"\nbase_url = "http://127.0.0.1:{sandbox_port}"\n',
        encoding="utf-8",
    )
    sandbox = start(tmp_path, "sandbox", "--port", str(sandbox_port))
    background.append(sandbox)  # type: ignore[arg-type]
    wait_http(f"http://127.0.0.1:{sandbox_port}/api/messages")
    assert run(tmp_path, "init").returncode == 0
    samples = Path(__file__).resolve().parent.parent / "distro" / "samples" / "contacts.csv"
    imported = run_json(tmp_path, "contacts", "import", str(samples), "--list", "l", "--json")
    assert imported["imported"] == SAMPLE_RECIPIENTS
    release = run_json(tmp_path, "release", "create", "--sample", "--json")
    assert run_json(tmp_path, "release", "approve", str(release["id"]), "--json")["status"] == (
        "approved"
    )
    send = run_json(tmp_path, "send", "schedule", str(release["id"]), "--list", "l", "--json")
    worker = run_process(tmp_path, "worker", "--exit-when-idle", timeout=120)
    assert worker.returncode == 0, worker.stderr
    report = run_json(tmp_path, "report", str(send["send_id"]), "--format", "json")
    assert report["sent"] == SAMPLE_RECIPIENTS
    assert report["status"] == "sent"
    inbox = httpx.get(f"http://127.0.0.1:{sandbox_port}/api/messages", timeout=5).json()
    assert len(inbox["recipients"]) == SAMPLE_RECIPIENTS
    assert set(inbox["recipients"].values()) == {1}
