"""Importing a pasted release as a draft: read it (``distro.releases.importer``), then store it.

One transaction. A page with no headline left once its debris and byline are set aside is
refused with a one-line error asking for the title, rather than stored under an invented one
(a byline or a site's phone line would otherwise become the subject of every email).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from distro.db import writing_session
from distro.errors import ValidationError
from distro.releases.importer import parse_release
from distro.releases.inputs import check_markdown_links
from distro.releases.service import create_release
from distro.releases.views import ReleaseView


@dataclass(frozen=True)
class ImportOutcome:
    """The stored draft, what the reader of it should check, and the byline's author if any."""

    release: ReleaseView
    warnings: list[str] = field(default_factory=list)
    author: str = ""

    def as_dict(self) -> dict[str, Any]:
        """The release's JSON with the warnings, and the byline's author (which the release
        itself has no field for)."""
        return {**self.release.as_dict(), "warnings": self.warnings, "author": self.author}


def import_release(
    engine: Engine, text: str, *, source: str, title: str | None = None, default_zone: str = "UTC"
) -> ImportOutcome:
    """Store ``text`` (read from ``source``, named in errors) as a draft release.

    ``title`` replaces the headline found, and is required when none is found.
    """
    # Checked on the text as given, so that an error names the line of the file.
    check_markdown_links(text, (source,))
    parsed = parse_release(text, default_zone=default_zone)
    warnings = list(parsed.warnings)
    chosen = (title or "").strip()
    if not chosen and not parsed.title:
        raise ValidationError(
            f"{source}: no headline found (only page text{' and a byline' if parsed.author else ''}"
            ' before the body); give one with --title "..."'
        )
    if chosen:
        warnings = [w for w in warnings if w != "no headline found"]
        if parsed.title and parsed.title != chosen:
            warnings.append(f"the headline found, {parsed.title!r}, was replaced by --title")
    with writing_session(engine) as session:
        created = create_release(
            session,
            title=chosen or parsed.title,
            subtitle=parsed.subtitle,
            dateline=parsed.dateline,
            release_date=parsed.release_date,
            body_md=parsed.body,
            boilerplate=parsed.boilerplate,
            media_contacts=[
                {"name": c.name, "role": c.role, "phone": c.phone, "email": c.email}
                for c in parsed.contacts
            ],
            embargo_at=parsed.embargo_at,
            embargo_tz=parsed.embargo_tz,
        )
    return ImportOutcome(ReleaseView.of(created), warnings, parsed.author)
