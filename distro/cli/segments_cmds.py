"""`distro segments ...`: saved segments (dynamic audiences)."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlalchemy import select
from sqlmodel import Session

from distro.cli.output import print_json, print_table
from distro.cli.state import state
from distro.models import Segment

segments = typer.Typer(
    help="Dynamic audiences written in the segment language.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@segments.command("list")
def list_segments(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List saved segments."""
    with Session(state(ctx).engine) as session:
        found = session.execute(select(Segment).order_by(Segment.name)).scalars().all()
    if as_json:
        print_json([{"name": s.name, "expression": s.expression} for s in found])
        return
    print_table("Segments", ("name", "expression"), [(s.name, s.expression) for s in found])
