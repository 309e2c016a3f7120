"""Creating and finding releases.

``create_release`` and ``get_release`` work inside a caller's session; ``create_draft``,
``list_releases`` and ``load_release`` are the services the CLI (and the API to come) call:
one transaction each, releases returned as ``ReleaseView`` (``distro.releases.views``) so no
caller holds a row outside its session.
"""

from __future__ import annotations

import re
import tomllib
import unicodedata
from dataclasses import asdict, dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func
from sqlmodel import Session, col, select

from distro.db import reading_session, writing_session
from distro.errors import FieldError, NotFoundError, ValidationError
from distro.models import Release
from distro.moments import parse_moment
from distro.releases.inputs import checked_fields
from distro.releases.lifecycle import approve
from distro.releases.views import ReleaseView

SAMPLES = Path(__file__).resolve().parent.parent / "samples"


def slugify(title: str) -> str:
    ascii_title = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_title.lower()).strip("-")
    return slug[:80].rstrip("-") or "release"


def unique_slug(session: Session, title: str) -> str:
    base = slugify(title)
    slugs = session.exec(select(col(Release.slug)).where(col(Release.slug).startswith(base)))
    taken = set(slugs)
    if base not in taken:
        return base
    counter = 2
    while f"{base}-{counter}" in taken:
        counter += 1
    return f"{base}-{counter}"


def create_release(
    session: Session,
    *,
    title: str,
    body_md: str,
    subtitle: str = "",
    dateline: str = "",
    release_date: date | None = None,
    boilerplate: str = "",
    media_contacts: list[dict[str, Any]] | None = None,
    asset_links: list[dict[str, Any]] | None = None,
    language: str = "en",
    embargo_at: datetime | None = None,
    embargo_tz: str = "UTC",
) -> Release:
    if not title.strip():
        raise ValidationError("a release needs a title")
    if not body_md.strip():
        raise ValidationError("a release needs a body")
    links = checked_fields(
        {
            "body_md": body_md,
            "boilerplate": boilerplate,
            "media_contacts": media_contacts or [],
            "asset_links": asset_links or [],
        }
    )
    release = Release(
        slug=unique_slug(session, title),
        title=title.strip(),
        subtitle=subtitle.strip(),
        dateline=dateline.strip(),
        release_date=release_date,
        body_md=body_md.strip() + "\n",
        boilerplate=boilerplate.strip(),
        media_contacts=links["media_contacts"],
        asset_links=links["asset_links"],
        language=language,
        embargo_at=embargo_at,
        embargo_tz=embargo_tz,
    )
    session.add(release)
    session.flush()
    return release


def get_release(session: Session, release_id: int) -> Release:
    release = session.get(Release, release_id)
    if release is None:
        raise NotFoundError(f"no release {release_id}")
    return release


RELEASE_FILE_KEYS = frozenset(
    {
        "title",
        "subtitle",
        "dateline",
        "release_date",
        "body",
        "boilerplate",
        "language",
        "embargo",
        "media_contacts",
        "asset_links",
    }
)


def release_fields_from_toml(path: Path) -> dict[str, Any]:
    """Fields for ``create_release`` from a TOML release file (see distro/samples/release.toml)."""
    try:
        text = path.read_text(encoding="utf-8")
        data = tomllib.loads(text)
    except (OSError, UnicodeDecodeError) as exc:
        raise ValidationError(f"{path}: cannot be read ({exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ValidationError(f"{path}: not valid TOML: {exc}") from None
    unknown = set(data) - RELEASE_FILE_KEYS
    if unknown:
        known = ", ".join(sorted(RELEASE_FILE_KEYS))
        raise ValidationError(f"{path}: unknown keys {', '.join(sorted(unknown))} (known: {known})")
    for required in ("title", "body"):
        if not str(data.get(required, "")).strip():
            raise ValidationError(f"{path}: {required} is missing")
    fields: dict[str, Any] = {
        "title": str(data["title"]),
        "body_md": str(data["body"]),
        "subtitle": str(data.get("subtitle", "")),
        "dateline": str(data.get("dateline", "")),
        "boilerplate": str(data.get("boilerplate", "")),
        "language": str(data.get("language", "en")),
        "media_contacts": _records(
            path, data, "media_contacts", ("name", "role", "phone", "email")
        ),
        "asset_links": _records(path, data, "asset_links", ("label", "url")),
    }
    if "release_date" in data:
        fields["release_date"] = _date(path, data["release_date"])
    if data.get("embargo"):
        fields["embargo_at"], fields["embargo_tz"] = parse_moment(str(data["embargo"]))
    try:
        return checked_fields(fields)
    except FieldError as exc:
        line = _toml_line(text, exc.path)
        raise ValidationError(f"{path}{f' line {line}' if line else ''}: {exc}") from None


def _toml_line(text: str, path: tuple[str | int, ...]) -> int | None:
    """The line of ``[[table]]`` number N's ``key = ...``, for a problem at (table, N, key).

    None when the file does not spell it that way (an inline array, say): the field's name
    alone then says where.
    """
    if len(path) != 3 or not isinstance(path[1], int):
        return None
    table, number, key = path
    header = re.compile(rf"^\s*\[\[\s*{re.escape(str(table))}\s*\]\]")
    assignment = re.compile(rf"^\s*\"?{re.escape(str(key))}\"?\s*=")
    seen = 0
    for line_number, line in enumerate(text.splitlines(), 1):
        if header.match(line):
            seen += 1
        elif seen == number and line.lstrip().startswith("["):
            return None
        elif seen == number and assignment.match(line):
            return line_number
    return None


def _records(
    path: Path, data: dict[str, Any], key: str, allowed: tuple[str, ...]
) -> list[dict[str, Any]]:
    records = data.get(key, [])
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValidationError(f"{path}: {key} must be an array of tables ([[{key}]])")
    for index, record in enumerate(records, 1):
        extra = set(record) - set(allowed)
        if extra:
            raise ValidationError(
                f"{path}: {key} #{index}: unknown keys {', '.join(sorted(extra))} "
                f"(known: {', '.join(allowed)})"
            )
    return [{k: str(r.get(k, "")) for k in allowed} for r in records]


def _date(path: Path, value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise ValidationError(f"{path}: release_date {value!r} is not a YYYY-MM-DD date") from None


def create_sample_release(session: Session) -> Release:
    """The release bundled with distro, for the demo and `make run`."""
    return create_release(session, **asdict(ReleaseDraft.sample()))


# --- services: one transaction each -------------------------------------------------------------


@dataclass(frozen=True)
class ReleaseDraft:
    """What a new release is made of: ``create_release``'s fields, checked when it is created."""

    title: str
    body_md: str
    subtitle: str = ""
    dateline: str = ""
    release_date: date | None = None
    boilerplate: str = ""
    media_contacts: list[dict[str, Any]] | None = None
    asset_links: list[dict[str, Any]] | None = None
    language: str = "en"
    embargo_at: datetime | None = None
    embargo_tz: str = "UTC"

    @classmethod
    def from_toml(cls, path: Path) -> ReleaseDraft:
        """The draft a TOML release file describes (ValidationError naming the file if not)."""
        return cls(**release_fields_from_toml(path))

    @classmethod
    def sample(cls) -> ReleaseDraft:
        """The release bundled with distro, for the demo and `make run`."""
        return cls.from_toml(SAMPLES / "release.toml")


def create_draft(engine: Engine, draft: ReleaseDraft) -> ReleaseView:
    """Store ``draft`` as a new draft release under a slug of its own."""
    with writing_session(engine) as session:
        created = create_release(session, **asdict(draft))
    return ReleaseView.of(created)


def add_sample_release(engine: Engine) -> ReleaseView | None:
    """The bundled sample, approved as an approver would leave it so that it can be sent at
    once (the demo, `serve --with-samples`); None, storing nothing, when there are releases
    already: a database in use never gets a sample it did not ask for."""
    with writing_session(engine) as session:
        if session.exec(select(func.count()).select_from(Release)).one():
            return None
        release = create_sample_release(session)
        approve(release)
        session.add(release)
    return ReleaseView.of(release)


def list_releases(engine: Engine) -> list[ReleaseView]:
    """Every release, newest first."""
    with reading_session(engine) as session:
        found = session.exec(select(Release).order_by(col(Release.id).desc())).all()
        return [ReleaseView.of(item) for item in found]


def load_release(engine: Engine, release_id: int) -> ReleaseView:
    """One release; NotFoundError when there is none with that id."""
    with reading_session(engine) as session:
        return ReleaseView.of(get_release(session, release_id))
