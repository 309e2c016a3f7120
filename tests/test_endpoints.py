"""Commands find the running `distro serve` on any port, without environment variables
(distro.endpoints): its links and its built-in sandbox follow the server's runtime record."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from distro.endpoints import record_path, resolve, running_server
from tests.cli_support import free_port, run, start, stop, wait_http
from tests.conftest import make_settings


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    port = free_port()
    serve = start(tmp_path, "serve", "--port", str(port), "--with-samples")
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=120)
        yield serve, port
    finally:
        stop(serve)


def test_commands_reach_a_server_on_another_port(
    tmp_path: Path, served: tuple[subprocess.Popen[bytes], int]
) -> None:
    serve, port = served
    sent = run(tmp_path, "send", "test", "1", "--to", "me@example.org")
    assert sent.returncode == 0, sent.stderr
    assert "accepted by sandbox" in sent.stdout
    preview = run(tmp_path, "release", "preview", "1", "--text")
    assert preview.returncode == 0, preview.stderr
    assert f"http://127.0.0.1:{port}/u/" in preview.stdout
    assert ":8000" not in preview.stdout
    record = json.loads((tmp_path / "distro.db.server").read_text())
    assert record == {"host": "127.0.0.1", "port": port, "pid": serve.pid}
    stop(serve)
    assert not (tmp_path / "distro.db.server").exists()  # removed on exit


def test_a_stale_record_is_ignored(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'distro.db'}")
    dead = subprocess.Popen(["true"])
    dead.wait()
    record_path(settings).write_text(
        json.dumps({"host": "127.0.0.9", "port": 1234, "pid": dead.pid})
    )
    assert running_server(settings) is None
    assert resolve(settings).server.base_url == "http://127.0.0.1:8000"


def test_a_live_record_moves_host_and_port_but_public_url_stays(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'distro.db'}", server={"public_url": "https://press.example.org"}
    )
    record = {"host": "127.0.0.9", "port": 18765, "pid": os.getpid()}
    record_path(settings).write_text(json.dumps(record))
    resolved = resolve(settings).server
    assert (resolved.host, resolved.port) == ("127.0.0.9", 18765)
    assert resolved.base_url == "https://press.example.org"
    record_path(settings).write_text("{not json")
    assert resolve(settings) == settings  # a damaged record falls back to the configuration
