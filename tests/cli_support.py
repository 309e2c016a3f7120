"""Running distro as a user does: the installed console script, a clean environment, ports."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx

DISTRO = str(Path(sys.executable).parent / "distro")


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without any DISTRO_* variable of the machine, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DISTRO_")}
    env.update(extra)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def run(cwd: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [DISTRO, *args], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=timeout
    )


def run_json(cwd: Path, *args: str) -> Any:
    done = run(cwd, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def start(cwd: Path, *args: str) -> subprocess.Popen[bytes]:
    """``distro ARGS`` running in the background, its output discarded; end it with ``stop``."""
    return subprocess.Popen(
        [DISTRO, *args],
        cwd=cwd,
        env=clean_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def stop(process: subprocess.Popen[Any], timeout: float = 30) -> None:
    """Stop it as a user does (Ctrl+C), or kill it if it has not stopped in ``timeout``."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGINT)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()


def wait_http(url: str, timeout: float = 30) -> httpx.Response:
    """GET ``url`` once it answers (a server that is still starting refuses connections)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(url, timeout=2)
        except httpx.TransportError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
