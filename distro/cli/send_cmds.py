"""Sending commands: `distro send ...` and `distro report`."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import typer
from sqlalchemy import select
from sqlmodel import Session

from distro.cli.output import console, print_json, print_table
from distro.cli.report_view import print_report
from distro.cli.state import state
from distro.models import Release, Send
from distro.models.types import utcnow
from distro.moments import parse_moment, show_moment
from distro.reports import build_report
from distro.sending.schedule import Audience, schedule_send
from distro.sending.test_copy import send_test_copy

send = typer.Typer(
    help="Schedule sends of a release to an audience, and look at them.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


class ReportFormat(StrEnum):
    TABLE = "table"
    JSON = "json"


def register(app: typer.Typer) -> None:
    app.command()(report)


@send.command("schedule")
def schedule(
    ctx: typer.Context,
    release_id: Annotated[int, typer.Argument(help="The release to send.")],
    list_names: Annotated[
        list[str] | None, typer.Option("--list", help="A static list (repeat for several).")
    ] = None,
    where: Annotated[str | None, typer.Option(help="A segment expression.")] = None,
    segment: Annotated[str | None, typer.Option(help="A saved segment's name.")] = None,
    at: Annotated[
        str | None,
        typer.Option(help='When: ISO 8601 or "YYYY-MM-DD HH:MM Zone/Name" (default: now).'),
    ] = None,
    at_embargo: Annotated[
        bool, typer.Option("--at-embargo", help="At the embargo lift, following it if it moves.")
    ] = False,
    advance_copy: Annotated[
        bool,
        typer.Option(
            "--advance-copy",
            help="An embargoed advance copy: before the lift, with the embargo notice, "
            "to embargo-trusted contacts only.",
        ),
    ] = False,
    provider: Annotated[
        str | None,
        typer.Option(help="A configured provider, providers.NAME (default: sending.provider)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Schedule a send; prints its id. Without --at or --at-embargo it goes as soon as possible."""
    cli = state(ctx)
    moment = parse_moment(at)[0] if at else None
    created = schedule_send(
        cli.engine,
        cli.settings,
        release_id=release_id,
        audience=Audience(lists=list(list_names or []), where=where, segment=segment),
        at=moment,
        at_embargo=at_embargo,
        advance_copy=advance_copy,
        provider=provider,
        now=utcnow(),
    )
    if as_json:
        print_json({"send_id": created.id, "scheduled_at": created.scheduled_at.isoformat()})
    else:
        console.print(
            f"Scheduled send {created.id} for {show_moment(created.scheduled_at)} "
            f"via {created.provider}."
        )


@send.command("test")
def send_test_command(
    ctx: typer.Context,
    release_id: Annotated[int, typer.Argument(help="The release.")],
    to: Annotated[str, typer.Option("--to", help="The address that gets the test copy.")],
    provider: Annotated[
        str | None, typer.Option(help="A configured provider (default: sending.provider).")
    ] = None,
    advance_copy: Annotated[
        bool, typer.Option("--advance-copy", help="As an embargoed advance copy (with the notice).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Send one copy, marked as a test, through a provider now (any release status)."""
    cli = state(ctx)
    result = send_test_copy(
        cli.engine, cli.settings, release_id, to, provider=provider, advance_copy=advance_copy
    )
    if as_json:
        print_json(result)
    else:
        console.print(
            f"Test copy of release {release_id} to {result['to']} accepted by "
            f"{result['provider']} (id {result['provider_message_id']}); recorded as send "
            f"{result['send_id']}.",
            markup=False,
        )


@send.command("list")
def list_sends(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List sends, newest first."""
    with Session(state(ctx).engine) as session:
        rows = session.execute(
            select(Send, Release.title)  # type: ignore[call-overload]
            .join(Release, Release.id == Send.release_id)
            .order_by(Send.id.desc())  # type: ignore[union-attr]
        ).all()
    if as_json:
        print_json(
            [
                {
                    "send_id": s.id,
                    "release_id": s.release_id,
                    "release_title": title,
                    "status": s.status,
                    "scheduled_at": s.scheduled_at.isoformat(),
                    "recipients": s.recipients,
                    "provider": s.provider,
                }
                for s, title in rows
            ]
        )
        return
    print_table(
        "Sends",
        ("id", "release", "status", "scheduled", "recipients", "provider"),
        [
            (s.id, title, s.status, show_moment(s.scheduled_at), s.recipients, s.provider)
            for s, title in rows
        ],
    )


def report(
    ctx: typer.Context,
    send_id: Annotated[int, typer.Argument(help="The send to report on.")],
    output_format: Annotated[
        ReportFormat, typer.Option("--format", help="table or json.")
    ] = ReportFormat.TABLE,
) -> None:
    """Report what happened to a send: the funnel in distinct recipients."""
    built = build_report(state(ctx).engine, send_id)
    if output_format == ReportFormat.JSON:
        print_json(built.as_dict())
    else:
        print_report(built)
