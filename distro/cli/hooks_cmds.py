"""`distro hooks ...`: URLs that receive our normalised events (outgoing webhooks).

Staff choose the URLs; workers post to them from their own network position, so receivers on
loopback, private or link-local addresses are refused unless allowed in the configuration (see
distro.outgoing.destinations).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from distro.cli.output import console, errors, print_json, print_table
from distro.cli.state import state
from distro.config import secret_key
from distro.outgoing.destinations import Destinations
from distro.outgoing.endpoints import (
    add_endpoint,
    delivery_log,
    list_endpoints,
    parse_event_types,
    remove_endpoint,
    rotate_secret,
    set_active,
    valid_event_types,
)
from distro.outgoing.views import EndpointView

hooks = typer.Typer(
    help="Outgoing webhooks: URLs that receive distro's events as signed JSON.",
    no_args_is_help=True,
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
IdArgument = Annotated[int, typer.Argument(help="The webhook's id (see `distro hooks list`).")]
SHOWN_ONCE = (
    "Give it to the receiver now: it is not shown again. Receivers check X-Distro-Signature "
    "(see distro.outgoing.signing.verify_signature)."
)


def _when(moment: datetime | None) -> str:
    return moment.isoformat()[:16].replace("T", " ") + " UTC" if moment else "-"


def _print_endpoint(row: EndpointView) -> None:
    """One webhook as a few unfolded lines: URLs stay whole and copyable in any terminal."""
    state = "FAILING" if row.status == "failing" else row.status
    console.print(f"Webhook {row.id}  {state}  {row.url}", markup=False)
    console.print(
        f"  events: {', '.join(row.events) or 'all'}; send: {row.send_id or 'all'}; "
        f"delivered up to event {row.cursor_event_id}; "
        f"last success: {_when(row.last_success_at)}",
        markup=False,
    )
    if row.status == "failing":
        console.print(
            f"  failing since {_when(row.failing_since)} ({row.consecutive_failures} "
            f"failures in a row): no longer tried; fix the receiver, then "
            f"`distro hooks resume {row.id}`",
            markup=False,
        )
    elif row.status == "retrying":
        console.print(
            f"  retrying: {row.consecutive_failures} failures in a row, next attempt "
            f"{_when(row.next_attempt_at)}",
            markup=False,
        )
    if row.last_error:
        console.print(f"  last error: {row.last_error}", markup=False)


@hooks.command("add")
def add_command(
    ctx: typer.Context,
    url: Annotated[str, typer.Argument(help="The http(s) URL to POST events to.")],
    events: Annotated[
        str | None,
        typer.Option(
            "--events", help=f"Comma-separated event types (default: all): {valid_event_types()}."
        ),
    ] = None,
    send: Annotated[int | None, typer.Option("--send", help="Only events of this send.")] = None,
    from_start: Annotated[
        bool,
        typer.Option(
            "--from-start",
            help="Also deliver the events already stored (default: only those from now on).",
        ),
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Register a URL to receive events from now on; prints its signing secret, once."""
    cli = state(ctx)
    added = add_endpoint(
        cli.engine,
        url,
        secret_key(cli.settings),
        event_types=parse_event_types(events),
        send_id=send,
        from_start=from_start,
        destinations=Destinations(cli.settings.outgoing_webhooks.allow_private_addresses),
    )
    if as_json:
        print_json(added.as_dict())
        return
    console.print(f"Added webhook {added.endpoint.id}: {added.endpoint.url}", markup=False)
    console.print(f"Signing secret: {added.secret}", markup=False)
    console.print(SHOWN_ONCE, markup=False)


@hooks.command("list")
def list_command(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List the webhooks, their filters and how delivery is going."""
    rows = list_endpoints(state(ctx).engine)
    if as_json:
        print_json([row.as_dict() for row in rows])
        return
    if not rows:
        console.print("No webhooks. Add one with `distro hooks add URL`.", markup=False)
    for row in rows:
        _print_endpoint(row)


@hooks.command("remove")
def remove_command(
    ctx: typer.Context, endpoint_id: IdArgument, as_json: JsonOption = False
) -> None:
    """Delete a webhook and its delivery log."""
    removed = remove_endpoint(state(ctx).engine, endpoint_id)
    if as_json:
        print_json(removed.as_dict())
        return
    endpoint = removed.endpoint
    console.print(f"Removed webhook {endpoint.id} ({endpoint.url}).", markup=False)


@hooks.command("pause")
def pause_command(ctx: typer.Context, endpoint_id: IdArgument, as_json: JsonOption = False) -> None:
    """Stop delivering to a webhook; events wait for it, none are lost."""
    endpoint = set_active(state(ctx).engine, endpoint_id, False)
    if as_json:
        print_json(endpoint.as_dict())
        return
    console.print(f"Paused webhook {endpoint.id}; events wait until it is resumed.", markup=False)


@hooks.command("resume")
def resume_command(
    ctx: typer.Context, endpoint_id: IdArgument, as_json: JsonOption = False
) -> None:
    """Deliver to a paused or failing webhook again, from where it stopped."""
    endpoint = set_active(state(ctx).engine, endpoint_id, True)
    if as_json:
        print_json(endpoint.as_dict())
        return
    console.print(
        f"Resumed webhook {endpoint.id}; delivery continues after event "
        f"{endpoint.cursor_event_id}.",
        markup=False,
    )


@hooks.command("log")
def log_command(
    ctx: typer.Context,
    endpoint_id: IdArgument,
    limit: Annotated[int, typer.Option("--limit", min=1, help="How many attempts.")] = 20,
    as_json: JsonOption = False,
) -> None:
    """The latest delivery attempts to a webhook, newest first."""
    rows = delivery_log(state(ctx).engine, endpoint_id, limit)
    if as_json:
        print_json([row.as_dict() for row in rows])
        return
    print_table(
        f"Deliveries to webhook {endpoint_id} ({len(rows)})",
        ("at", "kind", "events", "count", "result", "ms"),
        [
            (
                r.attempted_at.isoformat()[:19].replace("T", " "),
                r.kind,
                f"{r.first_event_id}-{r.last_event_id}" if r.first_event_id else "",
                r.event_count,
                "ok" if r.ok else r.error,
                r.duration_ms,
            )
            for r in rows
        ],
    )


@hooks.command("test")
def ping_command(ctx: typer.Context, endpoint_id: IdArgument, as_json: JsonOption = False) -> None:
    """Send a signed ping (no events) now; exits 1 if the receiver does not accept it."""
    from distro.outgoing.delivery import Deliverer

    cli = state(ctx)
    deliverer = Deliverer(cli.settings, cli.engine, secret_key(cli.settings))
    try:
        attempt = deliverer.ping(endpoint_id)
    finally:
        deliverer.close()
    if as_json:
        print_json(attempt.as_dict())
    elif attempt.ok:
        console.print(
            f"Ping accepted: HTTP {attempt.status_code} in {attempt.duration_ms} ms.", markup=False
        )
    else:
        errors.print(f"error: ping to webhook {endpoint_id} failed: {attempt.error}", markup=False)
    if not attempt.ok:
        raise typer.Exit(1)


@hooks.command("rotate-secret")
def rotate_command(
    ctx: typer.Context, endpoint_id: IdArgument, as_json: JsonOption = False
) -> None:
    """Give a webhook a new signing secret (the old one stops at once); prints it, once."""
    cli = state(ctx)
    rotated = rotate_secret(cli.engine, endpoint_id, secret_key(cli.settings))
    if as_json:
        print_json(rotated.as_dict())
        return
    console.print(
        f"New signing secret for webhook {rotated.endpoint.id}: {rotated.secret}", markup=False
    )
    console.print(SHOWN_ONCE, markup=False)
