"""Commands that set up and run distro: init, serve, worker, sandbox, demo.

The web server, worker and sandbox are imported inside the commands that run them, so the
other commands (and ``--help``) start without loading FastAPI and uvicorn.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
from typing import TYPE_CHECKING, Annotated

import typer

from distro.cli.output import console, print_json
from distro.cli.report_view import print_report
from distro.cli.state import state
from distro.config_providers import SandboxProvider
from distro.db import display_url, init_database, open_database
from distro.errors import ConfigError, DistroError

if TYPE_CHECKING:
    from distro.sandbox import SandboxOptions

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ExposeSandboxOption = Annotated[
    bool,
    typer.Option(
        "--expose-sandbox",
        help="Serve the sandbox even on a non-loopback address: its inbox (every email it "
        "accepted), its message API and its signing keys become readable by anyone who can "
        "reach the server, without credentials.",
    ),
]


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
    expose_sandbox: ExposeSandboxOption = False,
) -> None:
    """Run the web app (webhooks, links, pages) with the scheduler and sender.

    On a non-loopback address the sandbox is not served without --expose-sandbox, and distro
    refuses to start if the sandbox is the sending provider.
    """
    import uvicorn

    from distro.assemble import build_app, mounted_sandbox_provider, served_sandbox_provider
    from distro.demo import load_samples
    from distro.endpoints import remove_record, write_record
    from distro.web.server import bind_socket, is_loopback
    from distro.worker import Worker

    cli = state(ctx)
    # The configuration, not another running server's record: this one decides its own address.
    configured = cli.configured_settings
    server = configured.server.model_copy(
        update={"host": host or configured.server.host, "port": port or configured.server.port}
    )
    settings = configured.model_copy(update={"server": server})
    # Refuse an exposed sandbox before loading anything or taking the port.
    served_sandbox_provider(settings, expose=expose_sandbox)
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
        engine = open_database(settings.database.url)
    try:
        sock = bind_socket(server.host, server.port)
    except OSError as exc:
        raise DistroError(f"cannot listen on {server.host}:{server.port}: {exc.strerror}") from None
    loopback = "127.0.0.1" if server.host in ("0.0.0.0", "::") else server.host  # noqa: S104
    local_url = f"http://{loopback}:{server.port}"
    app, sandbox_state = build_app(settings, engine, local_url, expose_sandbox=expose_sandbox)
    running = Worker(settings, engine).start()
    console.print(f"distro is serving at {local_url}/ (public links use {server.base_url})")
    if not server.public_url and not is_loopback(server.host):
        console.print(
            f"Warning: server.public_url is not set, so links in emails start with "
            f"{server.base_url}, which recipients elsewhere cannot open: set server.public_url "
            "(such as https://press.example.org) to the address the public reaches.",
            markup=False,
        )
    if sandbox_state is not None:
        console.print(
            f"Sandbox inbox (every email the sandbox provider accepted): {local_url}/sandbox/"
        )
    elif mounted_sandbox_provider(settings) is not None:
        console.print(
            f"The sandbox is not served on {server.host} (--expose-sandbox would serve it)."
        )
    console.print("Press Ctrl+C to stop.")
    # uvicorn re-raises the signal that stopped it once it has shut down gracefully; making
    # SIGTERM a KeyboardInterrupt too lets both end here, with the worker stopped cleanly.
    previous = signal.signal(signal.SIGTERM, _interrupt)
    # Other commands find this server (links, the sandbox) through this record.
    record = write_record(settings, server.host, server.port)
    try:
        uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False)).run(
            sockets=[sock]
        )
    except KeyboardInterrupt:
        console.print("Stopped.")
    finally:
        signal.signal(signal.SIGTERM, previous)
        remove_record(record)
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
    from distro.worker import Worker

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
    webhook_base: Annotated[
        str | None,
        typer.Option(
            help="POST each API's webhooks to {URL}/{api} (postmark, sendgrid, mailgun, ses, "
            "resend); default: server base URL + /webhooks."
        ),
    ] = None,
    webhook_url: Annotated[
        str | None,
        typer.Option(help="POST Postmark webhooks here and no other API's (overrides the base)."),
    ] = None,
    no_webhooks: Annotated[
        bool, typer.Option("--no-webhooks", help="Accept and store only; post no webhooks.")
    ] = False,
    token: Annotated[
        list[str] | None,
        typer.Option(
            help="Also accept this secret: a Postmark server token, SendGrid or Resend API key, "
            "or Mailgun API key (user 'api'). Repeatable."
        ),
    ] = None,
    ses_key: Annotated[
        list[str] | None,
        typer.Option(help="Accept SES requests signed with KEY_ID:SECRET (SigV4). Repeatable."),
    ] = None,
    fault_429: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of sending requests refused with 429.")
    ] = 0.0,
    retry_after: Annotated[
        int, typer.Option(min=0, help="Retry-After seconds on an injected 429.")
    ] = 1,
    fault_500: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of sending requests answered 500.")
    ] = 0.0,
    fault_503: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Share of sending requests answered 503.")
    ] = 0.0,
    fault_slow: Annotated[
        float,
        typer.Option(
            min=0.0, max=1.0, help="Share of sending requests answered after --slow-seconds."
        ),
    ] = 0.0,
    slow_seconds: Annotated[
        float, typer.Option(min=0.0, help="Delay of a slow answer (a client timeout if shorter).")
    ] = 5.0,
    fault_drop_before: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of sending requests whose connection is dropped before anything is "
            "accepted.",
        ),
    ] = 0.0,
    fault_drop_after: Annotated[
        float,
        typer.Option(
            min=0.0,
            max=1.0,
            help="Share of sending requests accepted and stored, then their connection dropped "
            "(the answer is lost).",
        ),
    ] = 0.0,
    fault_seed: Annotated[
        int | None, typer.Option(help="Seed for a repeatable sequence of faults.")
    ] = None,
    max_stored: Annotated[
        int | None,
        typer.Option(
            min=1,
            help="Keep only this many newest messages (recipient counts still cover all); "
            "default: keep every message.",
        ),
    ] = None,
    expose_sandbox: ExposeSandboxOption = False,
) -> None:
    """Run the sandbox email provider on its own (point a provider's base_url at it)."""
    from distro.assemble import sandbox_options
    from distro.sandbox import APIS, FaultOptions, run_standalone

    settings = state(ctx).settings
    config = settings.provider(provider)
    if not isinstance(config, SandboxProvider):
        raise ConfigError(f"providers.{provider} is of type {config.type}, not sandbox")
    options = sandbox_options(settings, config, settings.server.base_url)
    if webhook_base:
        urls = {api: f"{webhook_base.rstrip('/')}/{api}" for api in APIS}
        options = _with_webhook_urls(options, urls)
    if webhook_url:
        options = _with_webhook_urls(options, {"postmark": webhook_url})
    if no_webhooks:
        options = _with_webhook_urls(options, {})
    here = dataclasses.replace(options.webhooks, public_base_url=_local_url(host, port))
    faults = FaultOptions(
        rate_429=fault_429,
        retry_after_seconds=retry_after,
        rate_500=fault_500,
        rate_503=fault_503,
        rate_slow=fault_slow,
        slow_seconds=slow_seconds,
        rate_drop_before=fault_drop_before,
        rate_drop_after=fault_drop_after,
        seed=fault_seed,
    )
    options = dataclasses.replace(
        options,
        server_tokens=options.server_tokens | frozenset(token or ()),
        ses_credentials={**options.ses_credentials, **_ses_keys(ses_key or [])},
        webhooks=here,
        faults=faults,
        max_stored=max_stored,
        expose_beyond_loopback=expose_sandbox,
    )
    posting = options.webhooks.urls
    target = f"{len(posting)} API(s), e.g. {next(iter(posting.values()))}" if posting else "nowhere"
    console.print(f"Sandbox listening on {here.public_base_url}/, webhooks to {target}")
    run_standalone(host, port, options)


def _local_url(host: str, port: int) -> str:
    """Where this machine reaches a server listening on host:port."""
    shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host  # noqa: S104
    return f"http://[{shown}]:{port}" if ":" in shown else f"http://{shown}:{port}"


def _with_webhook_urls(options: SandboxOptions, urls: dict[str, str]) -> SandboxOptions:
    return dataclasses.replace(options, webhooks=dataclasses.replace(options.webhooks, urls=urls))


def _ses_keys(values: list[str]) -> dict[str, str]:
    keys: dict[str, str] = {}
    for value in values:
        key_id, colon, secret = value.partition(":")
        if not colon or not key_id or not secret:
            raise typer.BadParameter(f"{value!r} is not KEY_ID:SECRET", param_hint="--ses-key")
        keys[key_id] = secret
    return keys


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
