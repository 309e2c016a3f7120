"""Commands that set up and run distro: init, serve, worker, sandbox, demo.

The web server, runtime and sandbox are imported inside the commands that run them, so the
other commands (and ``--help``) start without loading FastAPI and uvicorn.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
from typing import Annotated

import typer

from distro.cli.output import console, print_json
from distro.cli.report_view import print_report
from distro.cli.state import state
from distro.config import SandboxProvider
from distro.db import display_url, init_database, open_database
from distro.errors import ConfigError, DistroError

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def register(app: typer.Typer) -> None:
    for command in (init, serve, worker, sandbox, demo):
        app.command()(command)


def init(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Create the configured database, or upgrade it to this version's schema."""
    url = state(ctx).settings.database.url
    before, after = init_database(url)
    if as_json:
        print_json({"database": display_url(url), "from_revision": before, "revision": after})
    elif before == after:
        console.print(f"Database {display_url(url)} is up to date (schema {after}).")
    elif before is None:
        console.print(f"Created database {display_url(url)} (schema {after}).")
    else:
        console.print(f"Upgraded database {display_url(url)} from schema {before} to {after}.")


def serve(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option(help="Listen address (default: server.host).")] = None,
    port: Annotated[int | None, typer.Option(help="Listen port (default: server.port).")] = None,
    with_samples: Annotated[
        bool,
        typer.Option("--with-samples", help="Create the database if needed and load sample data."),
    ] = False,
) -> None:
    """Run the web app (webhooks, links, pages) with the scheduler and sender."""
    import uvicorn

    from distro.demo import load_samples
    from distro.runtime import Worker
    from distro.web.assemble import build_app
    from distro.web.server import bind_socket

    cli = state(ctx)
    server = cli.settings.server.model_copy(
        update={"host": host or cli.settings.server.host, "port": port or cli.settings.server.port}
    )
    settings = cli.settings.model_copy(update={"server": server})
    if with_samples:
        init_database(settings.database.url)
        engine = open_database(settings.database.url)
        imported, release = load_samples(engine)
        if imported is not None:
            console.print(
                f"Loaded {imported.imported} sample contacts into list 'sample-journalists'."
            )
        if release is not None:
            console.print(f"Loaded sample release {release.id}: {release.title}")
    else:
        engine = cli.engine
    try:
        sock = bind_socket(server.host, server.port)
    except OSError as exc:
        raise DistroError(f"cannot listen on {server.host}:{server.port}: {exc.strerror}") from None
    loopback = "127.0.0.1" if server.host in ("0.0.0.0", "::") else server.host  # noqa: S104
    local_url = f"http://{loopback}:{server.port}"
    app, sandbox_state = build_app(settings, engine, local_url)
    running = Worker(settings, engine).start()
    console.print(f"distro is serving at {local_url}/ (public links use {server.base_url})")
    if sandbox_state is not None:
        console.print(
            f"Sandbox inbox (every email the sandbox provider accepted): {local_url}/sandbox/"
        )
    console.print("Press Ctrl+C to stop.")
    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; making
    # SIGTERM a KeyboardInterrupt too lets both end here, with the worker stopped cleanly.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(
            sockets=[sock]
        )
    except KeyboardInterrupt:
        console.print("Stopped.")
    finally:
        signal.signal(signal.SIGTERM, previous)
        running.stop()
        if sandbox_state is not None:
            sandbox_state.close()


def _interrupt(_signum: int, _frame: object) -> None:
    raise KeyboardInterrupt


def worker(
    ctx: typer.Context,
    exit_when_idle: Annotated[
        bool,
        typer.Option(
            "--exit-when-idle",
            help="Exit once nothing is due, in flight or waiting for a retry (for cron, scripts).",
        ),
    ] = False,
) -> None:
    """Run the scheduler and the sender without the web server."""
    from distro.runtime import Worker

    cli = state(ctx)
    running = Worker(cli.settings, cli.engine).start()
    stop = threading.Event()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        if exit_when_idle:
            running.wait_until_idle()
        else:
            while not stop.wait(0.5):
                pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        running.stop()


def sandbox(
    ctx: typer.Context,
    host: Annotated[str, typer.Option(help="Listen address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Listen port.")] = 8025,
    provider: Annotated[
        str, typer.Option(help="The configured provider (providers.NAME) of type sandbox.")
    ] = "sandbox",
    webhook_url: Annotated[
        str | None,
        typer.Option(
            help="Where to POST webhooks (default: server base URL + /webhooks/postmark)."
        ),
    ] = None,
    no_webhooks: Annotated[
        bool, typer.Option("--no-webhooks", help="Accept and store only; post no webhooks.")
    ] = False,
) -> None:
    """Run the sandbox email provider on its own (point a sandbox provider's base_url at it)."""
    from distro.sandbox import run_standalone
    from distro.web.assemble import sandbox_options

    settings = state(ctx).settings
    config = settings.provider(provider)
    if not isinstance(config, SandboxProvider):
        raise ConfigError(f"providers.{provider} is of type {config.type}, not sandbox")
    options = sandbox_options(settings, config, settings.server.base_url)
    if webhook_url or no_webhooks:
        options = dataclasses.replace(options, webhook_url="" if no_webhooks else str(webhook_url))
    target = options.webhook_url or "nowhere (--no-webhooks)"
    console.print(f"Sandbox listening on http://{host}:{port}/, webhooks to {target}")
    run_standalone(host, port, options)


def demo(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """Send the sample release to the sample journalists through the sandbox, end to end."""
    from distro.demo import run_demo

    report = run_demo((lambda _text: None) if as_json else console.print)
    if as_json:
        print_json(report.as_dict())
    else:
        print_report(report)
    if report.pending or report.delivered + report.bounced < report.sent or report.failed:
        raise DistroError("the demo send did not complete: see the report above")
