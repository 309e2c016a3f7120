"""`distro suppress ...`: the addresses distro never mails."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import Session, col, select

from distro.cli.output import print_json, print_table
from distro.cli.state import state
from distro.models import Suppression

suppress = typer.Typer(
    help="The suppression list: addresses that are never mailed.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@suppress.command("list")
def list_suppressions(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List suppressed addresses with their reason and source."""
    with Session(state(ctx).engine) as session:
        found = session.exec(select(Suppression).order_by(col(Suppression.email))).all()
    rows = [
        {
            "email": s.email,
            "reason": s.reason,
            "source": s.source,
            "note": s.note,
            "created_at": s.created_at.isoformat(),
        }
        for s in found
    ]
    if as_json:
        print_json(rows)
        return
    print_table(
        f"Suppressed addresses ({len(rows)})",
        ("email", "reason", "source", "since"),
        [(r["email"], r["reason"], r["source"], r["created_at"][:16]) for r in rows],
    )
