"""What the contacts service returns: one contact listed, shown in full, or deleted.

Frozen dataclasses rather than dicts, so the command line, the web app and the API to come read
the same typed fields and none of them depends on a row or a session. ``as_dict`` is the JSON
`contacts ... --json` prints; its keys and their order are part of that output, so they are
spelt out here rather than derived from the fields.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from distro.models.audience import CONTACT_TEXT_FIELDS


@dataclass(frozen=True)
class ContactFields:
    """The free-text fields, in ``CONTACT_TEXT_FIELDS`` order (stored trimmed, "" when unset)."""

    first_name: str
    last_name: str
    outlet: str
    title: str
    region: str
    country: str
    language: str
    timezone: str
    notes: str

    @property
    def name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()

    def as_dict(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in CONTACT_TEXT_FIELDS}


@dataclass(frozen=True)
class ContactView:
    """A contact as `contacts list` and the CSV export give it: every field, beats and tags
    sorted, custom fields as stored."""

    email: str
    fields: ContactFields
    beats: tuple[str, ...]
    tags: tuple[str, ...]
    custom: dict[str, Any]
    status: str
    created_at: datetime
    updated_at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "email": self.email,
            **self.fields.as_dict(),
            "beats": list(self.beats),
            "tags": list(self.tags),
            "custom": dict(self.custom),
            "status": self.status,
            "created_at": self.created_at.isoformat(),
            "updated_at": self.updated_at.isoformat(),
        }


@dataclass(frozen=True)
class ContactSuppression:
    """Why the contact's address is suppressed, by whom (``source``) and since when."""

    reason: str
    source: str
    since: datetime

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "source": self.source, "since": self.since.isoformat()}


@dataclass(frozen=True)
class BeatOptOutView:
    """A beat the contact dropped in the preference centre, and from which message's link
    (None: the message is gone or the choice was not made from a link)."""

    beat: str
    since: datetime
    message_id: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"beat": self.beat, "since": self.since.isoformat(), "message_id": self.message_id}


@dataclass(frozen=True)
class ContactDetails:
    """Everything `contacts show` (and `contacts edit`, after the change) gives about one
    contact: the listed view, its lists, its suppression and the beats it opted out of."""

    contact: ContactView
    lists: tuple[str, ...]
    suppression: ContactSuppression | None
    beat_opt_outs: tuple[BeatOptOutView, ...]

    @property
    def suppressed(self) -> bool:
        return self.suppression is not None

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.contact.as_dict(),
            "lists": list(self.lists),
            "suppressed": self.suppressed,
            "suppression": None if self.suppression is None else self.suppression.as_dict(),
            "beat_opt_outs": [opt_out.as_dict() for opt_out in self.beat_opt_outs],
        }


@dataclass(frozen=True)
class DeletionSuppression:
    """The suppression ``contacts delete --suppress`` left on the address; ``added`` False when
    it was already suppressed (it keeps its original reason)."""

    reason: str
    source: str
    added: bool

    def as_dict(self) -> dict[str, Any]:
        return {"reason": self.reason, "source": self.source, "added": self.added}


@dataclass(frozen=True)
class DeletedContact:
    """A deleted contact: its address, the lists it was on, and its suppression if asked for."""

    email: str
    lists: tuple[str, ...]
    suppression: DeletionSuppression | None = None

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"email": self.email, "deleted": True, "lists": list(self.lists)}
        # The key is absent, not null, without --suppress: that is the JSON printed so far.
        if self.suppression is not None:
            data["suppression"] = self.suppression.as_dict()
        return data
