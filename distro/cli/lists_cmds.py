"""`distro lists ...`: static lists of contacts."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from distro.audience import lists as service
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
    service.create_list(state(ctx).engine, name, description)
    console.print(f"List {name!r} is ready.", markup=False)


@lists.command("list")
def list_lists(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List static lists with their sizes."""
    found = service.list_summaries(state(ctx).engine)
    if as_json:
        print_json([summary.as_dict() for summary in found])
        return
    print_table(
        "Lists",
        ("name", "contacts", "description"),
        [(summary.name, summary.contacts, summary.description) for summary in found],
    )


@lists.command("show")
def show_list(ctx: typer.Context, name: NameArgument, as_json: JsonOption = False) -> None:
    """Show a list's members (email, name, outlet) and count."""
    details = service.list_details(state(ctx).engine, name)
    if as_json:
        print_json(details.as_dict())
        return
    print_table(
        f"List {name} ({len(details.members)} contacts)",
        ("email", "name", "outlet"),
        [(m.email, m.name, m.outlet) for m in details.members],
    )


@lists.command("add")
def add_to_list(
    ctx: typer.Context, name: NameArgument, emails: EmailsArgument, as_json: JsonOption = False
) -> None:
    """Add contacts to a list by email; unknown addresses are reported, members stay members."""
    change = service.add_to_list(state(ctx).engine, name, emails)
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
    change = service.remove_from_list(state(ctx).engine, name, emails)
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
    service.get_list(engine, name)  # an unknown list is an error before any question
    if not yes:
        if not sys.stdin.isatty():
            raise ValidationError(f"deleting list {name!r} needs confirmation: pass --yes")
        typer.confirm(f"Delete list {name!r}? Its contacts stay.", abort=True)
    deleted = service.delete_list(engine, name)
    if as_json:
        print_json(deleted.as_dict())
        return
    console.print(
        f"Deleted list {name!r} ({deleted.memberships_removed} memberships removed; "
        "contacts kept).",
        markup=False,
    )
