"""Running distro as a user does: a clean environment in a working directory, and ports.

``run`` and ``run_json`` run a command in this process, through Typer's test runner, as a fresh
``distro`` process would: in ``cwd``, with no DISTRO_* variable of the machine, output captured
and an exit status. Starting the installed script costs ~0.8 s of imports each time, which made
the CLI tests the slowest part of the suite. ``run_process``, ``start`` and ``stop`` run the real
console script, for what only a process shows: the entry point itself, signals, ``serve`` and
other background processes, and the exit status of a crash.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import traceback
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from typer.testing import CliRunner

import distro.cli
from distro import keyfile
from distro.cli import output

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


def run(
    cwd: Path, *args: str, env: Mapping[str, str | None] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    """``distro ARGS`` in ``cwd``, in this process, with the machine's DISTRO_* variables
    removed and ``env`` applied (None removes a variable); ``stdin`` is what the command reads.
    The result has the shape ``subprocess.run`` gives, so a test reads it the same way
    whichever runner it uses."""
    command = ["distro", *args]
    overrides: dict[str, str | None] = {k: None for k in os.environ if k.startswith("DISTRO_")}
    overrides.update(env or {})
    with CliRunner().isolation(input=stdin, env=overrides) as (out, err, _mixed):
        with _as_a_fresh_process(cwd, command):
            try:
                distro.cli.main()
                code = 0
            except SystemExit as exc:
                code = _exit_status(exc.code)
            except Exception:  # a crash: Python prints the traceback and exits with 1
                traceback.print_exc()
                code = 1
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
        stdout = out.getvalue().decode()
        stderr = err.getvalue().decode("utf-8", "backslashreplace")
    return subprocess.CompletedProcess(command, code, stdout, stderr)


def run_process(
    cwd: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``distro ARGS`` as the installed console script, in a process of its own."""
    return subprocess.run(
        [DISTRO, *args],
        cwd=cwd,
        env=clean_env(**(env or {})),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def run_json(cwd: Path, *args: str) -> Any:
    done = run(cwd, *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def _exit_status(code: object) -> int:
    """What a process exiting with ``sys.exit(code)`` reports (a message means status 1)."""
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)
    return 1


@contextmanager
def _as_a_fresh_process(cwd: Path, argv: list[str]) -> Iterator[None]:
    """What a new process starts without and this one must not keep: the working directory and
    ``sys.argv``, the root logger's handlers (``--verbose`` configures them with basicConfig,
    which does nothing once pytest has added its own), Typer's exception hook, the keyfile's
    "warned once" memory, and the Rich consoles' size and colour, which a console reads from
    the environment when it is made."""
    previous_dir = Path.cwd()
    previous_argv = sys.argv
    previous_hook = sys.excepthook
    root = logging.getLogger()
    previous_handlers, previous_level = root.handlers[:], root.level
    previous_warned = set(keyfile._warned)
    consoles = [(output.console, False), (output.errors, True)]
    previous_state = [dict(console.__dict__) for console, _stderr in consoles]
    os.chdir(cwd)
    sys.argv = argv
    root.handlers = []
    keyfile._warned.clear()
    for console, stderr in consoles:
        # As distro/cli/output.py makes them, with this environment and these streams.
        fresh = Console(stderr=stderr, highlight=False, soft_wrap=True)
        console.__dict__.update(fresh.__dict__)
    try:
        yield
    finally:
        for handler in root.handlers:
            handler.close()
        root.handlers = previous_handlers
        root.setLevel(previous_level)
        for (console, _stderr), state in zip(consoles, previous_state, strict=True):
            console.__dict__.clear()
            console.__dict__.update(state)
        keyfile._warned.clear()
        keyfile._warned.update(previous_warned)
        sys.excepthook = previous_hook
        sys.argv = previous_argv
        os.chdir(previous_dir)


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
