"""`distro segments ...`: dynamic audiences written in the segment language."""

from __future__ import annotations

from typing import Annotated

import typer
from sqlmodel import Session, col, select

from distro.cli.output import console, print_json, print_table
from distro.cli.state import state
from distro.errors import NotFoundError, ValidationError
from distro.models import Segment
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


def _checked(expression: str) -> str:
    """The expression, or a SegmentError whose message shows a caret under the mistake."""
    from distro.audience.segments import SegmentError, parse

    try:
        parse(expression)
    except SegmentError as exc:
        raise ValidationError(f"{exc}\n{exc.pointer(expression)}") from None
    return expression


@segments.command("preview")
def preview(
    ctx: typer.Context,
    expression: ExpressionArgument,
    limit: Annotated[int, typer.Option(help="How many matching contacts to show.")] = 10,
    as_json: JsonOption = False,
) -> None:
    """Count the contacts an expression matches now, and show a few of them."""
    from distro.audience.segments import count_matching, sample_matching

    engine = state(ctx).engine
    now = utcnow()
    count = count_matching(engine, _checked(expression), now)
    sample = sample_matching(engine, expression, now, limit=limit)
    people = [
        {"email": c.email, "name": f"{c.first_name} {c.last_name}".strip(), "outlet": c.outlet}
        for c in sample
    ]
    if as_json:
        print_json({"expression": expression, "count": count, "sample": people})
        return
    console.print(f"{count} contacts match.", markup=False)
    if people:
        print_table("Sample", ("email", "name", "outlet"), [list(p.values()) for p in people])


@segments.command("save")
def save(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="The segment's name.")],
    expression: ExpressionArgument,
    as_json: JsonOption = False,
) -> None:
    """Save (or replace) a named segment; sends can then target it with --segment NAME."""
    _checked(expression)
    with Session(state(ctx).engine) as session:
        found = session.exec(select(Segment).where(Segment.name == name)).first()
        replaced = found is not None
        segment = found or Segment(name=name, expression=expression)
        segment.expression = expression
        session.add(segment)
        session.commit()
    if as_json:
        print_json({"name": name, "expression": expression, "replaced": replaced})
    else:
        console.print(f"{'Replaced' if replaced else 'Saved'} segment {name!r}.", markup=False)


@segments.command("list")
def list_segments(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List saved segments."""
    with Session(state(ctx).engine) as session:
        found = session.exec(select(Segment).order_by(col(Segment.name))).all()
    if as_json:
        print_json([{"name": s.name, "expression": s.expression} for s in found])
        return
    print_table("Segments", ("name", "expression"), [(s.name, s.expression) for s in found])


@segments.command("delete")
def delete(
    ctx: typer.Context, name: Annotated[str, typer.Argument(help="The segment's name.")]
) -> None:
    """Delete a saved segment (scheduled sends that use it are held when they fire)."""
    with Session(state(ctx).engine) as session:
        found = session.exec(select(Segment).where(Segment.name == name)).first()
        if found is None:
            raise NotFoundError(f"no saved segment named {name!r}")
        session.delete(found)
        session.commit()
    console.print(f"Deleted segment {name!r}.", markup=False)
