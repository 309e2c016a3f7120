"""Serve the sandbox on its own, in the foreground, for a developer machine or a benchmark."""

from __future__ import annotations

import dataclasses

import uvicorn

from distro.sandbox.app import create_sandbox_app
from distro.sandbox.options import SandboxOptions
from distro.web.server import bind_socket


def run_standalone(host: str, port: int, options: SandboxOptions) -> None:
    """Serve until interrupted; pending webhooks are flushed (bounded) on the way out.

    ConfigError for a non-loopback ``host`` unless ``options`` allow exposing the sandbox.
    """
    app, sandbox = create_sandbox_app(dataclasses.replace(options, listen_host=host))
    try:
        sock = bind_socket(host, port)
    except OSError:
        sandbox.close()
        raise
    try:
        config = uvicorn.Config(app, log_level="info", lifespan="off")
        uvicorn.Server(config).run(sockets=[sock])
    except KeyboardInterrupt:
        pass  # uvicorn re-raises Ctrl-C after its graceful shutdown; that is our normal exit
    finally:
        sandbox.close()
        sock.close()
