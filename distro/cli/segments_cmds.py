"""`distro segments ...`: dynamic audiences written in the segment language."""

from __future__ import annotations

from typing import Annotated

import typer

from distro.audience import saved_segments as service
from distro.cli.output import console, print_json, print_table
from distro.cli.state import state
from distro.models.types import utcnow

segments = typer.Typer(
    help="Dynamic audiences written in the segment language.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ExpressionArgument = Annotated[
    str,
    typer.Argument(
        help='A segment expression, e.g. \'beats has "immigration" and region in ("CA", "TX")\'.'
    ),
]


@segments.command("preview")
def preview(
    ctx: typer.Context,
    expression: ExpressionArgument,
    limit: Annotated[int, typer.Option(help="How many matching contacts to show.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Count the contacts an expression matches now, and show a few of them."""
    found = service.preview_segment(state(ctx).engine, expression, utcnow(), limit=limit)
    if as_json:
        print_json(found.as_dict())
        return
    console.print(f"{found.count} contacts match.", markup=False)
    if found.sample:
        print_table(
            "Sample",
            ("email", "name", "outlet"),
            [(p.email, p.name, p.outlet) for p in found.sample],
        )


@segments.command("save")
def save(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The segment's name.")],
    expression: ExpressionArgument,
    as_json: JsonOption = False,
) -> None:
    """Save (or replace) a named segment; sends can then target it with --segment NAME."""
    service.check_expression(expression)  # a mistake is shown before the database is opened
    saved = service.save_segment(state(ctx).engine, name, expression)
    if as_json:
        print_json(saved.as_dict())
    else:
        verb = "Replaced" if saved.replaced else "Saved"
        console.print(f"{verb} segment {name!r}.", markup=False)


@segments.command("list")
def list_segments(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List saved segments."""
    found = service.list_segments(state(ctx).engine)
    if as_json:
        print_json([s.as_dict() for s in found])
        return
    print_table("Segments", ("name", "expression"), [(s.name, s.expression) for s in found])


@segments.command("delete")
def delete(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The segment's name.")]
) -> None:
    """Delete a saved segment (scheduled sends that use it are held when they fire)."""
    service.delete_segment(state(ctx).engine, name)
    console.print(f"Deleted segment {name!r}.", markup=False)
