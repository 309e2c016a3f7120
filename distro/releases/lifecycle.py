"""A release's workflow: draft -> approved -> scheduled -> sent, withdrawn from anywhere.

Only approved releases can be scheduled, so a draft cannot go out by accident. Editing an approved
release's content sends it back to draft for another approval; the embargo alone may still move
while sends are scheduled, and sends that go "at the lift" move with it. A release whose sends
are all cancelled before anything went out is approved again (``distro.releases.settle``), and
``reopen`` takes an approved or withdrawn release back to draft, keeping its slug, so a mistake
found after scheduling is corrected in place. Every refusal names the command that gets past it.
Withdrawing also stops the release's sends, which is the send state machine's business: see
``distro.sending.withdraw``.

These functions change the release they are given; the caller holds the release's workflow lock
(``distro.releases.workflow`` does) and commits.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection
from sqlmodel import Session, col, select, update

from distro.errors import EmbargoError, FieldError, ValidationError
from distro.models import Release, ReleaseStatus, Send, SendStatus
from distro.models.types import utcnow
from distro.releases.inputs import checked_fields
from distro.releases.settle import cancel_commands, describe, live_sends
from distro.releases.views import ReleaseView

ALLOWED: dict[str, frozenset[str]] = {
    ReleaseStatus.DRAFT: frozenset({ReleaseStatus.APPROVED, ReleaseStatus.WITHDRAWN}),
    ReleaseStatus.APPROVED: frozenset(
        {ReleaseStatus.DRAFT, ReleaseStatus.SCHEDULED, ReleaseStatus.WITHDRAWN}
    ),
    ReleaseStatus.SCHEDULED: frozenset(
        {ReleaseStatus.APPROVED, ReleaseStatus.SENT, ReleaseStatus.WITHDRAWN}
    ),
    ReleaseStatus.SENT: frozenset({ReleaseStatus.WITHDRAWN}),
    ReleaseStatus.WITHDRAWN: frozenset({ReleaseStatus.DRAFT}),
}

CONTENT_FIELDS = frozenset(
    {
        "title",
        "subtitle",
        "dateline",
        "release_date",
        "body_md",
        "boilerplate",
        "media_contacts",
        "asset_links",
        "language",
    }
)
EMBARGO_FIELDS = frozenset({"embargo_at", "embargo_tz"})
# The fields whose links are checked (distro.releases.inputs).
LINK_FIELDS = ("body_md", "boilerplate", "media_contacts", "asset_links")


# How staff take a release to each status, for refusals that name the way.
HOW: dict[str, str] = {
    ReleaseStatus.DRAFT: "`distro release reopen {id}`",
    ReleaseStatus.APPROVED: "`distro release approve {id}`",
    ReleaseStatus.SCHEDULED: "`distro send schedule {id} --list NAME`",
    ReleaseStatus.SENT: "when a send of it finishes",
    ReleaseStatus.WITHDRAWN: "`distro release withdraw {id}`",
}


def move(release: Release, target: ReleaseStatus) -> None:
    """Change the status, or raise ValidationError naming what is allowed instead and how."""
    if release.status == target:
        return
    allowed = ALLOWED[release.status]
    if target not in allowed:
        options = ", ".join(
            f"{status} ({HOW[status].format(id=release.id)})" for status in sorted(allowed)
        )
        raise ValidationError(
            f"release {release.id} is {release.status}; it cannot become {target} "
            f"(from {release.status} it can become: {options or 'nothing'})"
        )
    release.status = target
    release.updated_at = utcnow()


@dataclass
class EditOutcome:
    release: Release
    changed: list[str] = field(default_factory=list)
    moved_sends: list[int] = field(default_factory=list)
    early_sends: list[int] = field(default_factory=list)  # fixed-time sends now before the lift


def edit_release(session: Session, release: Release, changes: dict[str, Any]) -> EditOutcome:
    """Apply field changes under the workflow's rules; the caller commits."""
    unknown = set(changes) - CONTENT_FIELDS - EMBARGO_FIELDS
    if unknown:
        raise ValidationError(f"cannot edit {', '.join(sorted(unknown))}")
    changes = checked_fields(changes)
    changed = [name for name, value in changes.items() if getattr(release, name) != value]
    outcome = EditOutcome(release, changed)
    if not changed:
        return outcome
    content = [name for name in changed if name in CONTENT_FIELDS]
    if release.status == ReleaseStatus.WITHDRAWN:
        raise ValidationError(
            f"release {release.id} is withdrawn: make it a draft again with "
            f"`distro release reopen {release.id}` to change it"
        )
    if content and release.status in (ReleaseStatus.SCHEDULED, ReleaseStatus.SENT):
        # What journalists have, or are about to get, must match the stored release.
        raise ValidationError(
            f"{_frozen(session, release, 'edit')} (tried to change {', '.join(content)})"
        )
    for name in changed:
        setattr(release, name, changes[name])
    if content and release.status == ReleaseStatus.APPROVED:
        move(release, ReleaseStatus.DRAFT)  # changed content needs a fresh approval
    release.updated_at = utcnow()
    if "embargo_at" in changed:
        outcome.moved_sends, outcome.early_sends = _follow_embargo(session, release)
    session.add(release)
    return outcome


def _follow_embargo(session: Session, release: Release) -> tuple[list[int], list[int]]:
    pending = session.exec(
        select(Send).where(Send.release_id == release.id, Send.status == SendStatus.SCHEDULED)
    ).all()
    at_lift = [s for s in pending if s.at_embargo]
    if at_lift and release.embargo_at is None:
        raise EmbargoError(
            f"sends {_ids(at_lift)} are scheduled at the embargo lift: set a new embargo "
            "instead of removing it, or cancel those sends first"
        )
    for send in at_lift:
        assert release.embargo_at is not None
        send.scheduled_at = release.embargo_at
        session.add(send)
    early = [
        s.id
        for s in pending
        if s.id is not None
        and not s.at_embargo
        and not s.embargo_notice
        and release.embargo_at is not None
        and s.scheduled_at < release.embargo_at
    ]
    return [s.id for s in at_lift if s.id is not None], early


def _ids(sends: Iterable[Send]) -> str:
    return ", ".join(str(s.id) for s in sends)


def _frozen(session: Session, release: Release, instead: str) -> str:
    """Why a scheduled or sent release's content cannot change, and what to do ``instead``."""
    rid = release.id
    if release.status == ReleaseStatus.SCHEDULED:
        pending = live_sends(session.connection(), rid or 0)
        return f"release {rid} is scheduled ({describe(pending)}): {cancel_commands(pending)}" + (
            ", or change only the embargo"
            if instead == "edit"
            else f" first (if nothing of it went out, it is approved again and "
            f"`distro release reopen {rid}` works)"
        )
    return (
        f"release {rid} was sent and journalists have it as it is"
        + (", so only its embargo can change" if instead == "edit" else "")
        + f"; to send a corrected version, withdraw it (`distro release withdraw {rid}`), "
        f"then `distro release reopen {rid}`"
    )


def reopen(session: Session, release: Release, now: datetime) -> None:
    """Take an approved or withdrawn release back to draft, to be corrected and approved again.

    It keeps its slug, so its web copy comes back at the same URL once it goes out again; until
    then the web copy is unpublished (a withdrawn release's old recipients see a 404 meanwhile).
    Advance copies sent before this no longer leave anyone out of a later send: they were of
    the earlier version (see ``distro.sending.advance``).
    """
    rid = release.id
    if release.status == ReleaseStatus.DRAFT:
        raise ValidationError(
            f"release {rid} is a draft already: change it with `distro release edit {rid}`, "
            f"then `distro release approve {rid}`"
        )
    if release.status in (ReleaseStatus.SCHEDULED, ReleaseStatus.SENT):
        raise ValidationError(_frozen(session, release, "reopen"))
    move(release, ReleaseStatus.DRAFT)
    release.published_at = None
    release.reopened_at = now
    session.add(release)


def approve(release: Release) -> None:
    """Approve, after checking the stored links again: a release stored before distro refused
    a link (a ``javascript:`` asset, say) is held back until it is edited."""
    if release.status == ReleaseStatus.APPROVED:
        return
    if release.status == ReleaseStatus.WITHDRAWN:
        raise ValidationError(
            f"release {release.id} is withdrawn: make it a draft again with "
            f"`distro release reopen {release.id}`, then approve it"
        )
    if release.status in (ReleaseStatus.SCHEDULED, ReleaseStatus.SENT):
        raise ValidationError(
            f"release {release.id} is {release.status}, so it is approved already "
            "(`distro send list` shows its sends)"
        )
    try:
        checked_fields({name: getattr(release, name) for name in LINK_FIELDS})
    except FieldError as exc:
        raise ValidationError(
            f"release {release.id} cannot be approved: {exc} (change it with `distro release "
            f"edit {release.id}`)"
        ) from None
    move(release, ReleaseStatus.APPROVED)


def record_sent(conn: Connection, release_id: int, now: datetime) -> bool:
    """A send of the release finished: a scheduled release becomes sent, in ``conn``'s
    transaction. For workers, which never take the workflow lock: a compare-and-set on the
    stored status, so a release staff withdrew (or settled) meanwhile stays as they left it."""
    return move_stored(conn, release_id, ReleaseStatus.SCHEDULED, ReleaseStatus.SENT, now)


def move_stored(
    conn: Connection, release_id: int, was: ReleaseStatus, target: ReleaseStatus, now: datetime
) -> bool:
    """``move`` for a release not loaded: from ``was`` only; returns whether it moved."""
    if target not in ALLOWED[was]:
        raise ValidationError(f"release {release_id}: {was} cannot become {target}")
    moved = conn.execute(
        update(Release)
        .where(col(Release.id) == release_id, col(Release.status) == was)
        .values(status=target, updated_at=now)
    )
    return bool(moved.rowcount)


def web_copy_exists(release: Release | ReleaseView) -> bool:
    """Whether the web copy exists at all (for recipients' signed links too): only for the
    version being sent or sent. A draft, an approved release and a withdrawn one have none,
    so a reopened release's earlier recipients cannot read the unapproved correction."""
    return release.status in (ReleaseStatus.SCHEDULED, ReleaseStatus.SENT)


def web_copy_is_public(release: Release | ReleaseView, now: datetime) -> bool:
    """The web copy is public once the release went out and any embargo has lifted."""
    return (
        web_copy_exists(release)
        and release.published_at is not None
        and release.published_at <= now
        and (release.embargo_at is None or release.embargo_at <= now)
    )
