"""`distro contacts ...`: the journalist database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy import select
from sqlmodel import Session

from distro.audience.importer import import_contacts
from distro.cli.output import console, print_json, print_table
from distro.cli.state import state
from distro.models import Contact

contacts = typer.Typer(help="Import, find, edit and export journalists.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


@contacts.command("import")
def import_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A CSV file with a header row.")],
    list_name: Annotated[
        str | None, typer.Option("--list", help="Also add them to this list.")
    ] = None,
    update: Annotated[
        bool,
        typer.Option(
            "--update/--skip-existing", help="Update contacts that exist already, or leave them."
        ),
    ] = True,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Check and report; change nothing.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Import contacts from CSV; reports invalid rows by line and imports every valid one."""
    report = import_contacts(
        state(ctx).engine, file, list_name=list_name, update_existing=update, dry_run=dry_run
    )
    if as_json:
        print_json(report.as_dict())
        return
    prefix = "Would import" if dry_run else "Imported"
    console.print(
        f"{prefix} {report.imported}, updated {report.updated}, unchanged {report.unchanged}, "
        f"skipped {report.skipped_existing}; {len(report.duplicates)} duplicates, "
        f"{len(report.invalid)} invalid rows."
    )
    for row in report.invalid:
        console.print(f"  line {row['line']}: {row['email']!r}: {row['reason']}", markup=False)
    for dup in report.duplicates:
        console.print(f"  duplicate {dup['email']} on lines {dup['lines']}", markup=False)
    for warning in report.warnings:
        console.print(
            f"  line {warning['line']}: {warning['email']}: {warning['message']}", markup=False
        )


@contacts.command("list")
def list_contacts(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List contacts."""
    with Session(state(ctx).engine) as session:
        found = session.execute(select(Contact).order_by(Contact.email)).scalars().all()
    if as_json:
        print_json(
            [
                {
                    "email": c.email,
                    "first_name": c.first_name,
                    "last_name": c.last_name,
                    "outlet": c.outlet,
                    "title": c.title,
                    "region": c.region,
                    "language": c.language,
                    "timezone": c.timezone,
                }
                for c in found
            ]
        )
        return
    print_table(
        f"Contacts ({len(found)})",
        ("email", "name", "outlet", "region"),
        [(c.email, f"{c.first_name} {c.last_name}".strip(), c.outlet, c.region) for c in found],
    )
