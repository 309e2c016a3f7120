"""Sending commands: `distro send ...`."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select
from sqlmodel import Session

from distro.cli.output import console, print_json, print_table
from distro.cli.state import state
from distro.errors import ValidationError
from distro.models import Release, Send
from distro.models.types import utcnow
from distro.moments import parse_moment, show_moment
from distro.sending import control
from distro.sending.control import ControlResult
from distro.sending.schedule import Audience, schedule_send
from distro.sending.test_copy import send_test_copy

send = typer.Typer(
    help="Schedule sends of a release to an audience, look at them, and control them.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
SendArgument = Annotated[int, typer.Argument(help="The send's id (see `distro send list`).")]


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
    no_tracking: Annotated[
        bool,
        typer.Option(
            "--no-tracking", help="No open pixel and no rewritten links in this send's emails."
        ),
    ] = False,
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
        tracking=not no_tracking,
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
                    "note": s.note,
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
    # Notes say why a send is paused, missed, held or cancelled: whole lines, not a thin column.
    for s, _title in rows:
        if s.note:
            console.print(f"send {s.id} ({s.status}): {s.note}", markup=False)


@send.command("pause")
def pause(ctx: typer.Context, send_id: SendArgument, as_json: JsonOption = False) -> None:
    """Pause a scheduled or sending send: workers take no new messages from it at once."""
    _show(control.pause(state(ctx).engine, send_id, utcnow()), as_json)


@send.command("resume")
def resume(ctx: typer.Context, send_id: SendArgument, as_json: JsonOption = False) -> None:
    """Resume a paused, missed or held send with exactly the recipients not yet sent.

    A send whose moment passed goes now, however late; one still under embargo stays held.
    """
    cli = state(ctx)
    _show(control.resume(cli.engine, cli.settings, send_id, utcnow()), as_json)


@send.command("cancel")
def cancel(ctx: typer.Context, send_id: SendArgument, as_json: JsonOption = False) -> None:
    """Cancel a send that has not finished; what was already sent stays on record."""
    _show(control.cancel(state(ctx).engine, send_id, utcnow()), as_json)


@send.command("retry-failed")
def retry_failed(ctx: typer.Context, send_id: SendArgument, as_json: JsonOption = False) -> None:
    """Queue the send's failed messages again (addresses suppressed since are skipped)."""
    _show(control.retry_failed(state(ctx).engine, send_id, utcnow()), as_json)


@send.command("resolve")
def resolve(
    ctx: typer.Context,
    send_id: SendArgument,
    resend: Annotated[
        bool,
        typer.Option(
            "--resend", help="Queue uncertain messages again (a recipient may get it twice)."
        ),
    ] = False,
    drop: Annotated[
        bool, typer.Option("--drop", help="Close uncertain messages as not sent (failed).")
    ] = False,
    message_id: Annotated[
        int | None, typer.Option("--message", help="Only this message (its id).")
    ] = None,
    email: Annotated[
        str | None, typer.Option("--email", help="Only the message to this address.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Decide the fate of messages left uncertain by a crash: --resend or --drop them."""
    if resend == drop:
        raise ValidationError("give exactly one of --resend or --drop")
    result = control.resolve(
        state(ctx).engine, send_id, utcnow(), resend=resend, message_id=message_id, email=email
    )
    _show(result, as_json)


VERBS = {
    "pause": "Paused",
    "resume": "Resumed",
    "cancel": "Cancelled",
    "retry-failed": "Retried the failed messages of",
    "resend": "Resolved the uncertain messages of",
    "drop": "Resolved the uncertain messages of",
}


def _show(result: ControlResult, as_json: bool) -> None:
    if as_json:
        print_json(result.as_dict())
        return
    moved = (
        f"{result.was} -> {result.status}" if result.was != result.status else f"still {result.was}"
    )
    counts = ", ".join(f"{n} {key.replace('_', ' ')}" for key, n in result.counts.items())
    console.print(
        f"{VERBS[result.action]} send {result.send_id}: {moved}"
        + (f"; {counts}." if counts else "."),
        markup=False,
    )
    for error, n in result.previous_errors.items():
        console.print(f"  {n} had failed with: {error or '(no error recorded)'}", markup=False)
    if result.action == "resend" and result.counts.get("requeued"):
        console.print(
            "  These recipients may get the email twice: their first copy's fate is unknown.",
            markup=False,
        )
    if result.note:
        console.print(f"  Note: {result.note}", markup=False)
