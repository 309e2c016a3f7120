"""`distro lists ...`: static lists of contacts."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import Session

from distro.audience.lists import get_or_create_list, list_sizes
from distro.cli.output import console, print_json, print_table
from distro.cli.state import state

lists = typer.Typer(help="Static lists of contacts.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@lists.command("create")
def create_list(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The list's name.")],
    description: Annotated[str, typer.Option(help="What the list is for.")] = "",
) -> None:
    """Create an empty static list (importing with --list also creates one)."""
    with Session(state(ctx).engine) as session:
        get_or_create_list(session, name, description)
        session.commit()
    console.print(f"List {name!r} is ready.", markup=False)


@lists.command("list")
def list_lists(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List static lists with their sizes."""
    with Session(state(ctx).engine) as session:
        sizes = list_sizes(session)
    if as_json:
        print_json(
            [{"name": lst.name, "description": lst.description, "contacts": n} for lst, n in sizes]
        )
        return
    print_table(
        "Lists",
        ("name", "contacts", "description"),
        [(lst.name, n, lst.description) for lst, n in sizes],
    )
