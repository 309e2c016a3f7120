"""`distro events ...`: what providers told distro that it did not believe."""

from __future__ import annotations

from typing import Annotated

import typer

from distro.cli.output import console, print_json, print_table
from distro.cli.state import state
from distro.tracking.refused import list_refused

events = typer.Typer(help="Tracking events distro received.", no_args_is_help=True)


@events.command("refused")
def refused(
    ctx: typer.Context,
    send_id: Annotated[
        int | None, typer.Option("--send", help="Only events naming this send's messages.")
    ] = None,
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Provider events that named one of our messages with another recipient (or none), newest
    first: stored, but not applied to the message (no status change, no suppression). Many of
    them mean somebody sends through your provider account with distro's message ids."""
    found = list_refused(state(ctx).engine, send_id=send_id, limit=limit)
    if as_json:
        print_json([event.as_dict() for event in found])
        return
    if not found:
        console.print("No refused events.", markup=False)
        return
    print_table(
        "Refused events, newest first (times in UTC)",
        ("id", "received", "provider", "type", "reported recipient", "named", "why"),
        [
            (
                e.id,
                f"{e.received_at:%Y-%m-%d %H:%M}",
                e.provider,
                e.type,
                e.recipient or "(none)",
                f"message {e.claimed_message_id} (send {e.send_id}) to {e.claimed_recipient}",
                e.reason,
            )
            for e in found
        ],
    )
