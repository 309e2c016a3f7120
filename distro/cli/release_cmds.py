"""`distro release ...`: write, import, approve, preview, withdraw and reopen press releases."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Annotated, Any

import typer

from distro.cli.output import console, print_json, print_table
from distro.cli.state import state
from distro.errors import ValidationError
from distro.models.types import utcnow
from distro.moments import parse_moment, show_moment
from distro.releases import service as releases
from distro.releases import workflow
from distro.releases.service import ReleaseDraft
from distro.releases.views import ReleaseView
from distro.sending.preview import preview_release
from distro.sending.withdraw import withdraw_release

release = typer.Typer(
    help="Write, import, approve and preview press releases.", no_args_is_help=True
)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON.")]
ContactOption = Annotated[
    list[str] | None,
    typer.Option(
        "--contact",
        help='A media contact as "Name | Role | Phone | Email" (repeat for several).',
    ),
]
AssetOption = Annotated[
    list[str] | None,
    typer.Option("--asset", help='A press-kit link as "Label | URL" (repeat for several).'),
]


def _read(path: Path | None) -> str | None:
    if path is None:
        return None
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: cannot be read as UTF-8 text ({exc})") from None


def _split(value: str, names: tuple[str, ...], option: str) -> dict[str, str]:
    parts = [p.strip() for p in value.split("|")]
    if len(parts) > len(names) or not parts[0]:
        raise ValidationError(f'{option} {value!r}: expected "{" | ".join(names)}"')
    return dict(zip(names, parts + [""] * (len(names) - len(parts)), strict=True))


def _contacts(values: list[str] | None) -> list[dict[str, Any]] | None:
    if values is None:
        return None
    return [_split(v, ("name", "role", "phone", "email"), "--contact") for v in values]


def _assets(values: list[str] | None) -> list[dict[str, Any]] | None:
    if values is None:
        return None
    # The URLs are checked with every other way a release gets links (distro.releases.inputs).
    return [_split(v, ("label", "url"), "--asset") for v in values]


def _print_release(
    item: ReleaseView, as_json: bool, verb: str, warnings: list[str] | None = None
) -> None:
    if as_json:
        # The warnings key only when there are warnings to pass on (approve, import).
        print_json(item.as_dict() if warnings is None else {**item.as_dict(), "warnings": warnings})
        return
    console.print(f"{verb} release {item.id} ({item.status}): {item.title}", markup=False)
    for warning in warnings or []:
        console.print(f"  warning: {warning}", markup=False)


@release.command("create")
def create(
    ctx: typer.Context,
    title: Annotated[str | None, typer.Option(help="The headline.")] = None,
    body_file: Annotated[Path | None, typer.Option(help="A Markdown file with the body.")] = None,
    subtitle: Annotated[str, typer.Option(help="The sub-headline.")] = "",
    dateline: Annotated[str, typer.Option(help='Where it is from, e.g. "CHICAGO".')] = "",
    boilerplate_file: Annotated[Path | None, typer.Option(help='The "About ..." text.')] = None,
    embargo: Annotated[
        str | None, typer.Option(help='Embargo lift: "YYYY-MM-DD HH:MM Zone/Name" or ISO 8601.')
    ] = None,
    contact: ContactOption = None,
    asset: AssetOption = None,
    from_file: Annotated[
        Path | None, typer.Option(help="A TOML release file (see distro/samples/release.toml).")
    ] = None,
    sample: Annotated[
        bool, typer.Option("--sample", help="Create distro's sample release.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Create a draft release from options, a TOML file, or the bundled sample."""
    engine = state(ctx).engine  # an unusable database is the first thing said, as always
    if sample:
        draft = ReleaseDraft.sample()
    elif from_file is not None:
        draft = ReleaseDraft.from_toml(from_file)
    else:
        if not title or body_file is None:
            raise ValidationError("give --title and --body-file, or --from-file, or --sample")
        embargo_at, zone_name = parse_moment(embargo) if embargo else (None, "UTC")
        draft = ReleaseDraft(
            title=title,
            body_md=_read(body_file) or "",
            subtitle=subtitle,
            dateline=dateline,
            boilerplate=_read(boilerplate_file) or "",
            media_contacts=_contacts(contact),
            asset_links=_assets(asset),
            embargo_at=embargo_at,
            embargo_tz=zone_name,
        )
    created = releases.create_draft(engine, draft)
    _print_release(created, as_json, "Created")


@release.command("import")
def import_release(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A release as text or Markdown.")],
    zone_name: Annotated[
        str, typer.Option("--zone", help="Zone for times that name none (IANA name).")
    ] = "UTC",
    title: Annotated[
        str | None,
        typer.Option(help="The headline, when the text has none (or to replace the one found)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Make a draft from a release pasted from a website or a word processor."""
    from distro.releases.import_service import import_release as store_import
    from distro.releases.import_source import read_release_file

    outcome = store_import(
        state(ctx).engine,
        read_release_file(file),
        source=str(file),
        title=title,
        default_zone=zone_name,
    )
    if as_json:  # the byline's author, which the release itself has no field for
        print_json(outcome.as_dict())
        return
    _print_release(outcome.release, as_json, "Imported", outcome.warnings)


@release.command("edit")
def edit(
    ctx: typer.Context,
    release_id: Annotated[int, typer.Argument(help="The release.")],
    title: Annotated[str | None, typer.Option(help="New headline.")] = None,
    subtitle: Annotated[str | None, typer.Option(help="New sub-headline.")] = None,
    dateline: Annotated[str | None, typer.Option(help="New dateline.")] = None,
    release_date: Annotated[
        str | None,
        typer.Option("--date", help="New date printed after the dateline (YYYY-MM-DD)."),
    ] = None,
    no_date: Annotated[
        bool, typer.Option("--no-date", help="Print no date after the dateline.")
    ] = False,
    body_file: Annotated[Path | None, typer.Option(help="New body (Markdown file).")] = None,
    boilerplate_file: Annotated[Path | None, typer.Option(help="New boilerplate file.")] = None,
    embargo: Annotated[
        str | None, typer.Option(help='New embargo lift: "YYYY-MM-DD HH:MM Zone/Name" or ISO 8601.')
    ] = None,
    no_embargo: Annotated[bool, typer.Option("--no-embargo", help="Remove the embargo.")] = False,
    contact: ContactOption = None,
    asset: AssetOption = None,
    as_json: JsonOption = False,
) -> None:
    """Change a release. Content changes send an approved release back to draft."""
    changes: dict[str, Any] = {
        key: value
        for key, value in {
            "title": title,
            "subtitle": subtitle,
            "dateline": dateline,
            "body_md": _read(body_file),
            "boilerplate": _read(boilerplate_file),
            "media_contacts": _contacts(contact),
            "asset_links": _assets(asset),
        }.items()
        if value is not None
    }
    if release_date is not None and no_date:
        raise ValidationError("give --date or --no-date, not both")
    if release_date is not None:
        changes["release_date"] = _date_option(release_date)
    if no_date:
        changes["release_date"] = None
    if embargo and no_embargo:
        raise ValidationError("give --embargo or --no-embargo, not both")
    if embargo:
        changes["embargo_at"], changes["embargo_tz"] = parse_moment(embargo)
    if no_embargo:
        changes["embargo_at"] = None
    outcome = workflow.edit(state(ctx).engine, release_id, changes, utcnow())
    if as_json:
        print_json(outcome.as_dict())
        return
    what = ", ".join(outcome.changed) or "nothing"
    console.print(f"Release {release_id} ({outcome.release.status}): changed {what}.", markup=False)
    if outcome.moved_sends:
        console.print(f"Sends {outcome.moved_sends} moved with the embargo.", markup=False)
    if outcome.early_sends:
        console.print(
            f"Sends {outcome.early_sends} are now before the lift and will be held when due.",
            markup=False,
        )


def _date_option(value: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise ValidationError(f"--date {value!r} is not a YYYY-MM-DD date") from None


@release.command("approve")
def approve(
    ctx: typer.Context,
    release_id: Annotated[int, typer.Argument(help="The release.")],
    as_json: JsonOption = False,
) -> None:
    """Approve a draft so that it can be scheduled; warns about a dateline dated far from when
    it goes out."""
    outcome = workflow.approve(state(ctx).engine, release_id, utcnow())
    _print_release(outcome.release, as_json, "Approved", outcome.warnings)


@release.command("withdraw")
def withdraw(
    ctx: typer.Context,
    release_id: Annotated[int, typer.Argument(help="The release.")],
    as_json: JsonOption = False,
) -> None:
    """Withdraw a release: its web copy goes offline and its pending sends are cancelled."""
    outcome = withdraw_release(state(ctx).engine, release_id, utcnow())
    cancelled = outcome.cancelled_sends
    if as_json:
        print_json(outcome.as_dict())
        return
    console.print(
        f"Withdrew release {release_id}; cancelled sends: {cancelled or 'none'}. "
        f"`distro release reopen {release_id}` makes it a draft again.",
        markup=False,
    )


@release.command("reopen")
def reopen(
    ctx: typer.Context,
    release_id: Annotated[int, typer.Argument(help="The release.")],
    as_json: JsonOption = False,
) -> None:
    """Take an approved or withdrawn release back to draft (same slug) to correct it; it needs
    approving again before it can be scheduled."""
    item = workflow.reopen(state(ctx).engine, release_id, utcnow())
    if as_json:
        print_json(item.as_dict())
        return
    _print_release(item, as_json, "Reopened")
    console.print(
        f"Change it with `distro release edit {release_id}`, then "
        f"`distro release approve {release_id}`.",
        markup=False,
    )


@release.command("list")
def list_releases(ctx: typer.Context, as_json: JsonOption = False) -> None:
    """List releases, newest first."""
    items = releases.list_releases(state(ctx).engine)
    if as_json:
        print_json([item.as_dict() for item in items])
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
    item = releases.load_release(state(ctx).engine, release_id)
    if as_json:
        print_json(item.as_dict())
        return
    console.print(item.title, markup=False, style="bold")
    for label, value in (
        ("subtitle", item.subtitle),
        ("dateline", item.dateline),
        ("date", item.release_date.isoformat() if item.release_date else "-"),
        ("status", item.status),
        ("embargo", show_moment(item.embargo_at, item.embargo_tz)),
        ("contacts", "; ".join(c.get("name", "") for c in item.media_contacts) or "-"),
    ):
        console.print(f"{label}: {value}", markup=False)
    console.print()
    console.print(item.body_md, markup=False)


@release.command("preview")
def preview(
    ctx: typer.Context,
    release_id: Annotated[int, typer.Argument(help="The release.")],
    contact_email: Annotated[
        str | None, typer.Option("--contact", help="Render as this contact receives it.")
    ] = None,
    text: Annotated[bool, typer.Option("--text", help="The plain-text part, not HTML.")] = False,
    headers: Annotated[bool, typer.Option("--headers", help="Print the headers first.")] = False,
    eml: Annotated[
        bool, typer.Option("--eml", help="The whole MIME message, as a mail client gets it.")
    ] = False,
    advance_copy: Annotated[
        bool, typer.Option("--advance-copy", help="As an embargoed advance copy (with the notice).")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write to this file instead of stdout.")] = None,
) -> None:
    """Render exactly what a contact would receive."""
    cli = state(ctx)
    preview = preview_release(
        cli.engine, cli.settings, release_id, contact_email=contact_email, advance_copy=advance_copy
    )
    if eml:
        rendered = preview.eml()
    else:
        rendered = preview.body(text=text)
        if headers:
            rendered = preview.headers() + "\n" + rendered
    if out is None:
        typer.echo(rendered, nl=False)
    else:
        out.write_text(rendered, encoding="utf-8")
        console.print(f"Wrote {out}", markup=False)
