"""`distro suppress ...`: the addresses distro never mails."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from distro.audience import suppression_service as service
from distro.audience.suppression import import_suppressions, parse_reason, valid_reasons
from distro.cli.output import console, print_json, print_table
from distro.cli.state import state
from distro.models import SuppressionReason

suppress = typer.Typer(
    help="The suppression list: addresses that are never mailed.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
NoteOption = Annotated[str, typer.Option("--note", help="Why: kept in the suppression log.")]
CLI_SOURCE = "cli"


@suppress.command("add")
def add_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The address never to mail.")],
    reason: Annotated[
        str, typer.Option("--reason", help=f"One of: {valid_reasons()}.")
    ] = SuppressionReason.DO_NOT_CONTACT.value,
    note: NoteOption = "",
    as_json: JsonOption = False,
) -> None:
    """Suppress an address; one already suppressed keeps its original reason."""
    chosen = parse_reason(reason)
    outcome = service.suppress_address(
        state(ctx).engine, email, chosen, source=CLI_SOURCE, note=note
    )
    suppression = outcome.suppression
    if as_json:
        print_json(outcome.as_dict())
        return
    if outcome.added:
        console.print(f"Suppressed {suppression.email} ({suppression.reason}).", markup=False)
    else:
        console.print(
            f"{suppression.email} was already suppressed ({suppression.reason}, since "
            f"{suppression.created_at:%Y-%m-%d}); left as it is.",
            markup=False,
        )


@suppress.command("remove")
def remove_command(
    ctx: typer.Context,
    email: Annotated[str, typer.Argument(help="The address to mail again.")],
    force: Annotated[
        bool,
        typer.Option("--force", help="Needed to lift a complaint or do_not_contact suppression."),
    ] = False,
    note: NoteOption = "",
    as_json: JsonOption = False,
) -> None:
    """Take an address off the suppression list (logged); protected reasons need --force."""
    removed = service.lift_suppression(
        state(ctx).engine, email, force=force, note=note, source=CLI_SOURCE
    )
    if as_json:
        print_json({**removed.as_dict(), "removed": True})
        return
    console.print(
        f"Removed {removed.email} ({removed.reason}) from the suppression list.", markup=False
    )


@suppress.command("list")
def list_command(
    ctx: typer.Context,
    reason: Annotated[
        str | None, typer.Option("--reason", help=f"Only this reason: {valid_reasons()}.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """List suppressed addresses with their reason and source."""
    chosen = parse_reason(reason) if reason is not None else None
    rows = [s.as_dict() for s in service.suppressed_addresses(state(ctx).engine, chosen)]
    if as_json:
        print_json(rows)
        return
    print_table(
        f"Suppressed addresses ({len(rows)})",
        ("email", "reason", "source", "since", "note"),
        [(r["email"], r["reason"], r["source"], r["created_at"][:10], r["note"]) for r in rows],
    )


@suppress.command("import")
def import_command(
    ctx: typer.Context,
    file: Annotated[
        Path, typer.Argument(help="A CSV with an email column, or one address per line.")
    ],
    reason: Annotated[
        str,
        typer.Option("--reason", help=f"For rows without a reason column: {valid_reasons()}."),
    ] = SuppressionReason.DO_NOT_CONTACT.value,
    as_json: JsonOption = False,
) -> None:
    """Suppress the addresses of a file; invalid rows are reported by line, valid ones kept."""
    chosen = parse_reason(reason)
    report = import_suppressions(
        state(ctx).engine, file, reason=chosen, source=f"import {file.name}"
    )
    if as_json:
        print_json(report.as_dict())
        return
    console.print(
        f"Suppressed {report.added}; {len(report.existing)} already suppressed, "
        f"{len(report.duplicates)} duplicates, {len(report.invalid)} invalid rows.",
        markup=False,
    )
    for row in report.invalid:
        console.print(f"  line {row['line']}: {row['email']!r}: {row['reason']}", markup=False)
    for dup in report.duplicates:
        console.print(f"  duplicate {dup['email']} on lines {dup['lines']}", markup=False)


@suppress.command("log")
def log_command(
    ctx: typer.Context,
    email: Annotated[
        str | None, typer.Argument(help="Only this address's history.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The history of additions and removals: who was let back in, when and why."""
    rows = [entry.as_dict() for entry in service.suppression_history(state(ctx).engine, email)]
    if as_json:
        print_json(rows)
        return
    print_table(
        f"Suppression log ({len(rows)})",
        ("at", "email", "action", "reason", "source", "forced", "note"),
        [
            (
                r["at"][:16].replace("T", " "),
                r["email"],
                r["action"],
                r["reason"],
                r["source"],
                "yes" if r["forced"] else "",
                r["note"],
            )
            for r in rows
        ],
    )
