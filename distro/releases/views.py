"""A release as the services hand it out: a frozen copy of its fields, not the ORM row.

The command line, the web app and the API to come get the same typed value from every release
service (create, list, show, import, edit, approve, reopen, withdraw), and none of them can
change a row by accident or read one after its session is gone. ``as_dict`` is the JSON
`release ... --json` prints (it was ``release_dict``): dates as ISO 8601, the embargo also in its
own zone; the keys and their order are part of that output.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from distro.models import Release
from distro.moments import show_moment


@dataclass(frozen=True)
class ReleaseView:
    """The fields of a release, named as on the model so code reading one reads the other."""

    id: int
    slug: str
    title: str
    subtitle: str
    dateline: str
    release_date: date | None
    status: str
    language: str
    embargo_at: datetime | None
    embargo_tz: str
    published_at: datetime | None
    # When it was last taken back to draft; not in the JSON, which never showed it.
    reopened_at: datetime | None
    body_md: str
    boilerplate: str
    media_contacts: tuple[dict[str, Any], ...]  # {name, role, phone, email}
    asset_links: tuple[dict[str, Any], ...]  # {label, url}

    @classmethod
    def of(cls, item: Release) -> ReleaseView:
        """The view of a stored release (it has an id: it was flushed or loaded)."""
        assert item.id is not None
        return cls(
            id=item.id,
            slug=item.slug,
            title=item.title,
            subtitle=item.subtitle,
            dateline=item.dateline,
            release_date=item.release_date,
            status=item.status,
            language=item.language,
            embargo_at=item.embargo_at,
            embargo_tz=item.embargo_tz,
            published_at=item.published_at,
            reopened_at=item.reopened_at,
            body_md=item.body_md,
            boilerplate=item.boilerplate,
            media_contacts=tuple(dict(contact) for contact in item.media_contacts),
            asset_links=tuple(dict(link) for link in item.asset_links),
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "slug": self.slug,
            "title": self.title,
            "subtitle": self.subtitle,
            "dateline": self.dateline,
            "release_date": self.release_date.isoformat() if self.release_date else None,
            "status": self.status,
            "language": self.language,
            "embargo_at": self.embargo_at.isoformat() if self.embargo_at else None,
            "embargo_tz": self.embargo_tz,
            "embargo_local": (
                show_moment(self.embargo_at, self.embargo_tz) if self.embargo_at else None
            ),
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "body": self.body_md,
            "boilerplate": self.boilerplate,
            "contacts": [dict(contact) for contact in self.media_contacts],
            "assets": [dict(link) for link in self.asset_links],
        }
