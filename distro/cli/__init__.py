"""The ``distro`` command line: thin Typer commands over the services.

Errors distro raises on purpose are printed as one line on stderr with exit status 1; a usage
mistake exits 2 (Click's convention).
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer

from distro.cli import (
    contacts_cmds,
    events_cmds,
    hooks_cmds,
    lists_cmds,
    release_cmds,
    report_cmds,
    segments_cmds,
    send_cmds,
    setup_cmds,
    suppress_cmds,
)
from distro.cli.output import errors
from distro.cli.state import CliState
from distro.errors import DistroError

app = typer.Typer(
    name="distro",
    help="Press-release distribution: embargo-safe sends to journalists, tracked per recipient.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def root(
    ctx: typer.Context,
    config: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="Config file (default: $DISTRO_CONFIG, then ./config.toml, then built-in).",
        ),
    ] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log what happens.")] = False,
) -> None:
    """Press-release distribution: embargo-safe sends to journalists, tracked per recipient."""
    ctx.obj = CliState(config_path=config)
    ctx.call_on_close(ctx.obj.close)
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )


setup_cmds.register(app)
report_cmds.register(app)
app.add_typer(contacts_cmds.contacts, name="contacts")
app.add_typer(lists_cmds.lists, name="lists")
app.add_typer(segments_cmds.segments, name="segments")
app.add_typer(suppress_cmds.suppress, name="suppress")
app.add_typer(release_cmds.release, name="release")
app.add_typer(send_cmds.send, name="send")
app.add_typer(hooks_cmds.hooks, name="hooks")
app.add_typer(events_cmds.events, name="events")


def main() -> None:
    try:
        app(prog_name="distro")
    except DistroError as exc:
        errors.print(f"error: {exc}", markup=False)
        sys.exit(1)
