"""Sending commands: `distro send ...`."""

from __future__ import annotations

from typing import Annotated

import typer

from distro.cli.output import Col, console, print_json, print_table
from distro.cli.progress import wanted, watch
from distro.cli.state import state
from distro.errors import ValidationError
from distro.models import ReleaseStatus, SendKind
from distro.models.types import utcnow
from distro.moments import parse_moment, show_moment
from distro.sending import control, scheduling
from distro.sending.control import ControlResult
from distro.sending.forecast import AudienceForecast, SendSummary, summarise_sends
from distro.sending.proof_copy import send_proof_copy
from distro.sending.scheduling import Audience, ScheduledSend, SendRequest

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
    include_advance_recipients: Annotated[
        bool,
        typer.Option(
            "--include-advance-recipients",
            help="Also mail contacts who already received an advance copy of the release "
            "(left out by default).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Schedule a send; prints its id, when it goes and whom it would reach now. Without --at
    or --at-embargo it goes as soon as possible."""
    cli = state(ctx)
    moment, zone_name = parse_moment(at) if at else (None, None)
    request = SendRequest(
        release_id,
        Audience(lists=list(list_names or []), where=where, segment=segment),
        at=moment,
        at_zone=zone_name,
        at_embargo=at_embargo,
        advance_copy=advance_copy,
        provider=provider,
        tracking=not no_tracking,
        include_advance_recipients=include_advance_recipients,
    )
    scheduled = scheduling.schedule(cli.engine, cli.settings, request, utcnow())
    if as_json:
        print_json(scheduled.as_dict())
    else:
        _print_scheduled(scheduled)


def _print_scheduled(scheduled: ScheduledSend) -> None:
    send = scheduled.send
    console.print(
        f"Scheduled send {send.id} ({SendKind(send.kind).label}) of release {send.release_id} "
        f"for {scheduled.moment} via {send.provider}.",
        markup=False,
    )
    console.print(f"Audience now: {_audience_line(scheduled.forecast)}.", markup=False)
    if scheduled.forecast.left_out:
        console.print(
            f"  {scheduled.forecast.left_out} left out: they have an advance copy of this "
            "release already (--include-advance-recipients mails them too).",
            markup=False,
        )
    for warning in scheduled.warnings:
        console.print(f"  warning: {warning}", markup=False)
    _print_opted_out(scheduled.forecast)


# How a suppression's reason reads after a count: "2 unsubscribed, 1 hard bounce".
SUPPRESSION_LABELS = {
    "unsubscribed": "unsubscribed",
    "hard_bounce": "bounced (hard)",
    "soft_bounce": "bounced (repeated soft bounces)",
    "complaint": "complained",
    "do_not_contact": "do not contact",
}
#: Contacts left out by a beat opt-out printed by name; --json lists them all.
OPTED_OUT_SHOWN = 20


def _print_opted_out(forecast: AudienceForecast) -> None:
    who = forecast.opted_out_contacts
    if not who:
        return
    console.print(f"  {len(who)} left out by a beat opt-out (preference centre):", markup=False)
    for contact in who[:OPTED_OUT_SHOWN]:
        console.print(
            f"    {contact.email}: opted out of {', '.join(contact.beats)} "
            f"on {contact.since:%Y-%m-%d %H:%M} UTC",
            markup=False,
            overflow="fold",
        )
    if len(who) > OPTED_OUT_SHOWN:
        console.print(f"    … and {len(who) - OPTED_OUT_SHOWN} more (--json lists them all)")


def _audience_line(forecast: AudienceForecast) -> str:
    parts = [f"{forecast.audience} contacts"]
    if forecast.suppressed:
        reasons = ", ".join(
            f"{n} {SUPPRESSION_LABELS.get(reason, reason.replace('_', ' '))}"
            for reason, n in forecast.suppressed_by_reason.items()
        )
        parts.append(f"{forecast.suppressed} suppressed" + (f" ({reasons})" if reasons else ""))
    if forecast.left_out:
        parts.append(f"{forecast.left_out} left out (advance copy)")
    line = ", ".join(parts) + f": {forecast.to_send} to be mailed"
    if forecast.opted_out:
        line += f" ({forecast.opted_out} more opted out of a beat the segment names)"
    return line


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
    result = send_proof_copy(
        cli.engine, cli.settings, release_id, to, provider=provider, advance_copy=advance_copy
    )
    if as_json:
        print_json(result.as_dict())
    else:
        console.print(
            f"Test copy of release {release_id} to {result.to} accepted by "
            f"{result.provider} (id {result.provider_message_id}); recorded as send "
            f"{result.send_id}.",
            markup=False,
        )


@send.command("list")
def list_sends(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List sends, newest first: kind, status, when, and recipients (for a send not fired yet,
    whom it would reach now)."""
    cli = state(ctx)
    summaries = summarise_sends(cli.engine, cli.settings.embargo.trusted_tag, utcnow())
    if as_json:
        print_json([summary.as_dict() for summary in summaries])
        return
    print_table(
        "Sends",
        (
            "id",
            "release",
            "kind",
            "status",
            "scheduled",
            "recipients",
            Col("left out", optional=True),
            Col("opted out", optional=True),
            Col("provider", optional=True),
        ),
        [
            (
                s.send_id,
                s.release_title,
                SendKind(s.kind).label,
                s.status,
                show_moment(s.scheduled_at, s.zone),
                _recipients(s),
                s.left_out,
                s.opted_out,
                s.provider,
            )
            for s in summaries
        ],
    )
    # Notes say why a send is paused, missed, held or cancelled: whole lines, not a thin column.
    for s in summaries:
        if s.note:
            console.print(f"send {s.send_id} ({s.status}): {s.note}", markup=False)
    # Who a fired send's beat segment left out is recorded: the report names them.
    for s in summaries:
        if s.opted_out and not s.expected:
            console.print(
                f"send {s.send_id}: {s.opted_out} left out by a beat opt-out "
                f"(`distro report {s.send_id} --recipients` names them)",
                markup=False,
            )
    # Failed and uncertain messages, with why: a send that ended short says so here.
    for s in summaries:
        for line in s.problems.lines():
            console.print(f"send {s.send_id}: {line}", markup=False, soft_wrap=True)


def _recipients(summary: SendSummary) -> str:
    if summary.recipients is None:
        return "?"
    return f"{summary.recipients} expected" if summary.expected else str(summary.recipients)


@send.command("watch")
def watch_command(
    ctx: typer.Context,
    send_id: SendArgument,
    interval: Annotated[
        float, typer.Option("--interval", min=0.1, help="Seconds between looks.")
    ] = 1.0,
    timeout: Annotated[
        float | None,
        typer.Option("--timeout", min=0.0, help="Stop watching after this many seconds."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Follow a send until it ends: a live bar of sent / delivered / failed / uncertain on a
    terminal; otherwise one final line (or JSON) when it ends."""
    bar = wanted(as_json)
    final = watch(state(ctx).engine, send_id, enabled=bar, interval=interval, timeout=timeout)
    if as_json:
        print_json(final.as_dict())
        return
    ending = "" if final.finished else f" (still going after {timeout:g} s)"
    console.print(final.line() + ending, markup=False)


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
    rid = result.release_id
    if result.release_status == ReleaseStatus.APPROVED:
        console.print(
            f"Release {rid} is approved again: none of its sends is left and nothing went out. "
            f"`distro release reopen {rid}` makes it a draft to correct it.",
            markup=False,
        )
    elif result.release_status == ReleaseStatus.SENT:
        console.print(
            f"Release {rid} is sent: none of its sends is left, and some of it went out.",
            markup=False,
        )
