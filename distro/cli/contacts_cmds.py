"""`distro contacts ...`: the journalist database."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from distro.audience.contact_views import ContactDetails
from distro.audience.contacts import (
    ContactEdit,
    contact_details,
    delete_contact,
    edit_contact,
    export_contacts,
    list_contacts,
)
from distro.audience.importer import import_contacts
from distro.cli.output import Col, console, print_json, print_table
from distro.cli.progress import import_bar, wanted
from distro.cli.state import state
from distro.models.types import utcnow

contacts = typer.Typer(help="Import, find, edit and export journalists.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
WhereOption = Annotated[
    str | None,
    typer.Option("--where", help="Only contacts this segment expression matches."),
]


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
    with import_bar(wanted(as_json)) as on_progress:
        report = import_contacts(
            state(ctx).engine,
            file,
            list_name=list_name,
            update_existing=update,
            dry_run=dry_run,
            on_progress=on_progress,
        )
    if as_json:
        print_json(report.as_dict())
        return
    prefix = "Would import" if dry_run else "Imported"
    console.print(
        f"{prefix} {report.imported}, updated {report.updated}, unchanged {report.unchanged}, "
        f"skipped {report.skipped_existing}; {len(report.duplicates)} duplicates, "
        f"{len(report.invalid)} invalid rows.",
        markup=False,
    )
    for row in report.invalid:
        address = f"{row['email']!r}: " if row["email"] else ""
        console.print(f"  line {row['line']}: {address}{row['reason']}", markup=False)
    for dup in report.duplicates:
        console.print(f"  duplicate {dup['email']} on lines {dup['lines']}", markup=False)
    for warning in report.warnings:
        address = f"{warning['email']}: " if warning["email"] else ""
        console.print(f"  line {warning['line']}: {address}{warning['message']}", markup=False)


@contacts.command("list")
def list_command(
    ctx: typer.Context,
    where: WhereOption = None,
    limit: Annotated[int | None, typer.Option("--limit", help="At most this many.")] = None,
    as_json: JsonOption = False,
) -> None:
    """List contacts, all or those a segment expression matches."""
    found = list_contacts(state(ctx).engine, where=where, now=utcnow(), limit=limit)
    if as_json:
        print_json([contact.as_dict() for contact in found])
        return
    print_table(
        f"Contacts ({len(found)})",
        ("email", "name", "outlet", Col("region", optional=True), "beats"),
        [
            (c.email, c.fields.name, c.fields.outlet, c.fields.region, "; ".join(c.beats))
            for c in found
        ],
    )


@contacts.command("show")
def show_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The contact's address.")],
    as_json: JsonOption = False,
) -> None:
    """Everything about one contact: fields, beats, tags, custom fields, lists, suppression."""
    _print_contact(contact_details(state(ctx).engine, email), as_json)


def _print_contact(details: ContactDetails, as_json: bool) -> None:
    if as_json:
        print_json(details.as_dict())
        return
    contact, fields, suppression = details.contact, details.contact.fields.as_dict(), None
    if details.suppression is not None:
        found = details.suppression
        suppression = f"{found.reason} ({found.source}, {found.since.isoformat()[:10]})"
    rows: list[tuple[str, Any]] = [
        ("email", contact.email),
        *fields.items(),
        ("beats", "; ".join(contact.beats)),
        (
            "beats opted out",
            "; ".join(
                f"{o.beat} (since {o.since.isoformat()[:16].replace('T', ' ')} UTC)"
                for o in details.beat_opt_outs
            )
            or "none",
        ),
        ("tags", "; ".join(contact.tags)),
        *[(f"custom.{key}", value) for key, value in sorted(contact.custom.items())],
        ("lists", ", ".join(details.lists)),
        ("status", contact.status),
        ("suppressed", suppression or "no"),
        ("created", contact.created_at.isoformat()[:16]),
        ("updated", contact.updated_at.isoformat()[:16]),
    ]
    # print_table shows cell text as text: markup in a name is never interpreted.
    print_table(contact.email, ("field", "value"), rows)


@contacts.command("edit")
def edit_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The contact's address.")],
    first_name: Annotated[str | None, typer.Option("--first-name", help="First name.")] = None,
    last_name: Annotated[str | None, typer.Option("--last-name", help="Last name.")] = None,
    outlet: Annotated[str | None, typer.Option("--outlet", help="Outlet (publication).")] = None,
    title: Annotated[str | None, typer.Option("--title", help="Job title.")] = None,
    region: Annotated[str | None, typer.Option("--region", help="Region or state.")] = None,
    country: Annotated[str | None, typer.Option("--country", help="Country.")] = None,
    language: Annotated[
        str | None, typer.Option("--language", help="Language code, e.g. en, es, pt-BR.")
    ] = None,
    timezone: Annotated[
        str | None, typer.Option("--timezone", help="IANA time zone, e.g. America/Chicago.")
    ] = None,
    notes: Annotated[str | None, typer.Option("--notes", help="Free-text notes.")] = None,
    add_beat: Annotated[
        list[str] | None, typer.Option("--add-beat", help="Add a beat (repeatable).")
    ] = None,
    remove_beat: Annotated[
        list[str] | None, typer.Option("--remove-beat", help="Remove a beat (repeatable).")
    ] = None,
    add_tag: Annotated[
        list[str] | None, typer.Option("--add-tag", help="Add a tag (repeatable).")
    ] = None,
    remove_tag: Annotated[
        list[str] | None, typer.Option("--remove-tag", help="Remove a tag (repeatable).")
    ] = None,
    set_custom: Annotated[
        list[str] | None,
        typer.Option("--set", help="Set a custom field (repeatable).", metavar="custom.KEY=VALUE"),
    ] = None,
    unset_custom: Annotated[
        list[str] | None,
        typer.Option("--unset", help="Remove a custom field (repeatable).", metavar="custom.KEY"),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Change a contact's fields, beats, tags and custom fields (an empty value clears)."""
    edit = ContactEdit(
        values={
            "first_name": first_name,
            "last_name": last_name,
            "outlet": outlet,
            "title": title,
            "region": region,
            "country": country,
            "language": language,
            "timezone": timezone,
            "notes": notes,
        },
        add_beats=add_beat or [],
        remove_beats=remove_beat or [],
        add_tags=add_tag or [],
        remove_tags=remove_tag or [],
        set_custom=set_custom or [],
        unset_custom=unset_custom or [],
    )
    _print_contact(edit_contact(state(ctx).engine, email, edit), as_json)


@contacts.command("export")
def export_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="The CSV file to write.")],
    where: WhereOption = None,
) -> None:
    """Write contacts to CSV: every field, beats and tags joined with ';', custom fields as
    columns; cells a spreadsheet would run as a formula are prefixed with '."""
    count = export_contacts(state(ctx).engine, file, where=where, now=utcnow())
    console.print(f"Exported {count} contacts to {file}", markup=False)


@contacts.command("delete")
def delete_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The contact's address.")],
    suppress: Annotated[
        bool,
        typer.Option("--suppress", help="Keep the address suppressed (do_not_contact)."),
    ] = False,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Delete a contact and its list memberships; --suppress keeps it from ever being mailed."""
    if not yes:
        typer.confirm(f"Delete {email.strip()} and its list memberships?", abort=True)
    result = delete_contact(state(ctx).engine, email, suppress=suppress)
    if as_json:
        print_json(result.as_dict())
        return
    message = f"Deleted {result.email}"
    if result.lists:
        message += f" (was on {', '.join(result.lists)})"
    if result.suppression is not None:
        found = result.suppression
        message += (
            "; suppressed as do_not_contact"
            if found.added
            else f"; already suppressed ({found.reason})"
        )
    console.print(message + ".", markup=False)
