"""`distro lists ...`: static lists of contacts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer
from sqlmodel import Session

from distro.audience.lists import (
    add_emails,
    delete_list,
    find_list,
    get_or_create_list,
    list_members,
    list_sizes,
    remove_emails,
)
from distro.cli.output import console, print_json, print_table
from distro.cli.state import state
from distro.errors import ValidationError

lists = typer.Typer(help="Static lists of contacts.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NameArgument = Annotated[str, typer.Argument(help="The list's name.")]
EmailsArgument = Annotated[list[str], typer.Argument(help="Contact email addresses.")]


@lists.command("create")
def create_list(
    ctx: typer.Context,
    name: NameArgument,
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


@lists.command("show")
def show_list(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Show a list's members (email, name, outlet) and count."""
    with Session(state(ctx).engine) as session:
        found = find_list(session, name)
        members = [
            {
                "email": c.email,
                "name": f"{c.first_name} {c.last_name}".strip(),
                "outlet": c.outlet,
            }
            for c in list_members(session, found)
        ]
        description = found.description
    if as_json:
        print_json(
            {"name": name, "description": description, "count": len(members), "members": members}
        )
        return
    print_table(
        f"List {name} ({len(members)} contacts)",
        ("email", "name", "outlet"),
        [(m["email"], m["name"], m["outlet"]) for m in members],
    )


@lists.command("add")
def add_to_list(
    ctx: typer.Context, name: NameArgument, emails: EmailsArgument, as_json: JsonOption = False
) -> None:
    """Add contacts to a list by email; unknown addresses are reported, members stay members."""
    with Session(state(ctx).engine) as session:
        change = add_emails(session, find_list(session, name), emails)
        session.commit()
    if as_json:
        print_json(change.as_dict("added", "already_members"))
        return
    console.print(
        f"Added {len(change.changed)} to {name!r}; {len(change.unchanged)} already on it, "
        f"{len(change.unknown)} unknown.",
        markup=False,
    )
    for email in change.unknown:
        console.print(f"  no contact {email} (import it first)", markup=False)


@lists.command("remove")
def remove_from_list(
    ctx: typer.Context, name: NameArgument, emails: EmailsArgument, as_json: JsonOption = False
) -> None:
    """Take contacts off a list by email (the contacts themselves stay)."""
    with Session(state(ctx).engine) as session:
        change = remove_emails(session, find_list(session, name), emails)
        session.commit()
    if as_json:
        print_json(change.as_dict("removed", "not_members"))
        return
    console.print(
        f"Removed {len(change.changed)} from {name!r}; {len(change.unchanged)} were not on it, "
        f"{len(change.unknown)} unknown.",
        markup=False,
    )
    for email in change.unknown:
        console.print(f"  no contact {email}", markup=False)


@lists.command("delete")
def delete_command(
    ctx: typer.Context,
    name: NameArgument,
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete a list and its memberships; the contacts stay."""
    engine = state(ctx).engine
    with Session(engine) as session:
        find_list(session, name)  # an unknown list is an error before any question
    if not yes:
        if not sys.stdin.isatty():
            raise ValidationError(f"deleting list {name!r} needs confirmation: pass --yes")
        typer.confirm(f"Delete list {name!r}? Its contacts stay.", abort=True)
    with Session(engine) as session:
        members = delete_list(session, find_list(session, name))
        session.commit()
    if as_json:
        print_json({"name": name, "deleted": True, "memberships_removed": members})
        return
    console.print(
        f"Deleted list {name!r} ({members} memberships removed; contacts kept).", markup=False
    )
