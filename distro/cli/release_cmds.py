"""`distro release ...`: write and look at press releases."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from sqlalchemy import select
from sqlmodel import Session

from distro.cli.output import console, print_json, print_table
from distro.cli.state import state
from distro.errors import ValidationError
from distro.models import Release
from distro.moments import parse_moment, show_moment
from distro.releases.service import create_release, create_sample_release, get_release

release = typer.Typer(help="Write, import and look at press releases.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]


def release_dict(item: Release) -> dict[str, Any]:
    return {
        "id": item.id,
        "slug": item.slug,
        "title": item.title,
        "subtitle": item.subtitle,
        "dateline": item.dateline,
        "release_date": item.release_date.isoformat() if item.release_date else None,
        "status": item.status,
        "language": item.language,
        "embargo_at": item.embargo_at.isoformat() if item.embargo_at else None,
        "embargo_tz": item.embargo_tz,
        "body": item.body_md,
        "boilerplate": item.boilerplate,
        "contacts": item.media_contacts,
    }


def _read(path: Path | None) -> str:
    if path is None:
        return ""
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: cannot be read as UTF-8 text ({exc})") from None


@release.command("create")
def create(
    ctx: typer.Context,
    title: Annotated[str | None, typer.Option(help="The headline.")] = None,
    body_file: Annotated[
        Path | None, typer.Option(help="A Markdown file with the body.", exists=False)
    ] = None,
    subtitle: Annotated[str, typer.Option(help="The sub-headline.")] = "",
    dateline: Annotated[str, typer.Option(help='Where it is from, e.g. "CHICAGO".')] = "",
    boilerplate_file: Annotated[Path | None, typer.Option(help='The "About ..." text.')] = None,
    embargo: Annotated[
        str | None,
        typer.Option(help='Embargo lift: "YYYY-MM-DD HH:MM Zone/Name" or ISO 8601.'),
    ] = None,
    sample: Annotated[
        bool, typer.Option("--sample", help="Create distro's sample release.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a draft release from options (or the bundled sample with --sample)."""
    with Session(state(ctx).engine, expire_on_commit=False) as session:
        if sample:
            created = create_sample_release(session)
        else:
            if not title or body_file is None:
                raise ValidationError("give --title and --body-file (or --sample)")
            embargo_at, zone = parse_moment(embargo) if embargo else (None, "UTC")
            created = create_release(
                session,
                title=title,
                body_md=_read(body_file),
                subtitle=subtitle,
                dateline=dateline,
                boilerplate=_read(boilerplate_file),
                embargo_at=embargo_at,
                embargo_tz=zone,
            )
        session.commit()
    if as_json:
        print_json(release_dict(created))
    else:
        console.print(f"Created release {created.id}: {created.title}", markup=False)


@release.command("list")
def list_releases(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List releases, newest first."""
    with Session(state(ctx).engine) as session:
        items = session.execute(select(Release).order_by(Release.id.desc())).scalars().all()  # type: ignore[union-attr]
    if as_json:
        print_json([release_dict(item) for item in items])
        return
    print_table(
        "Releases",
        ("id", "title", "status", "embargo"),
        [(r.id, r.title, r.status, show_moment(r.embargo_at, r.embargo_tz)) for r in items],
    )


@release.command("show")
def show(
    ctx: typer.Context,
    release_id: Annotated[int, typer.Argument(help="The release.")],
    as_json: JsonOption = False,
) -> None:
    """Show one release."""
    with Session(state(ctx).engine) as session:
        item = get_release(session, release_id)
    if as_json:
        print_json(release_dict(item))
        return
    console.print(item.title, markup=False, style="bold")
    for label, value in (
        ("subtitle", item.subtitle),
        ("dateline", item.dateline),
        ("status", item.status),
        ("embargo", show_moment(item.embargo_at, item.embargo_tz)),
    ):
        console.print(f"{label}: {value}", markup=False)
    console.print()
    console.print(item.body_md, markup=False)
