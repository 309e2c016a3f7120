"""Creating and finding releases."""

from __future__ import annotations

import re
import tomllib
import unicodedata
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from distro.errors import NotFoundError, ValidationError
from distro.models import Release

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
    language: str = "en",
    embargo_at: datetime | None = None,
    embargo_tz: str = "UTC",
) -> Release:
    if not title.strip():
        raise ValidationError("a release needs a title")
    if not body_md.strip():
        raise ValidationError("a release needs a body")
    release = Release(
        slug=unique_slug(session, title),
        title=title.strip(),
        subtitle=subtitle.strip(),
        dateline=dateline.strip(),
        release_date=release_date,
        body_md=body_md.strip() + "\n",
        boilerplate=boilerplate.strip(),
        media_contacts=media_contacts or [],
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


def create_sample_release(session: Session) -> Release:
    """The release bundled with distro, for the demo and `make run`."""
    data = tomllib.loads((SAMPLES / "release.toml").read_text(encoding="utf-8"))
    return create_release(
        session,
        title=data["title"],
        subtitle=data.get("subtitle", ""),
        dateline=data.get("dateline", ""),
        body_md=data["body"],
        boilerplate=data.get("boilerplate", ""),
        media_contacts=data.get("media_contacts", []),
    )
