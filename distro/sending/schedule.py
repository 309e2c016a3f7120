"""Scheduling a send: every check that can fail happens here, not at send time.

The audience must name something and not be empty, the provider must be configured, the template
must render for a real recipient of the audience, and the embargo must hold. The fire-time guard
in ``distro.sending.expand`` checks the embargo again, because embargoes move.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, Select, exists, func
from sqlmodel import Session, col, select

from distro.audience.lists import find_list
from distro.audience.segments import parse
from distro.audience.targeting import audience_contact_ids, send_expression
from distro.config import Settings, secret_key
from distro.errors import EmbargoError, ValidationError
from distro.models import Contact, Release, ReleaseStatus, Send, SendStatus, Suppression
from distro.moments import show_moment
from distro.providers import check_adapter
from distro.releases.lifecycle import move
from distro.releases.service import get_release
from distro.rendering import make_environment
from distro.sending.compose import Composer
from distro.sending.expand import tagged_contact_ids
from distro.tracking.links import LinkSigner

SCHEDULABLE = (ReleaseStatus.APPROVED, ReleaseStatus.SCHEDULED, ReleaseStatus.SENT)
# A start moment this far in the past is a typing mistake, not "as soon as possible".
PAST_TOLERANCE = timedelta(minutes=1)


@dataclass(frozen=True)
class Audience:
    lists: list[str] = field(default_factory=list)
    where: str | None = None
    segment: str | None = None

    def validate(self) -> None:
        if not (self.lists or self.where or self.segment):
            raise ValidationError("name an audience: --list NAME, --where EXPR or --segment NAME")
        if self.where and self.segment:
            raise ValidationError("give --where or --segment, not both (lists may go with either)")
        if self.where:
            parse(self.where)  # a SegmentError points at the column of the mistake

    def describe(self) -> str:
        parts = [f"list {name!r}" for name in self.lists]
        if self.segment:
            parts.append(f"segment {self.segment!r}")
        if self.where:
            parts.append(f"where {self.where}")
        return " + ".join(parts)


def schedule_send(
    engine: Engine,
    settings: Settings,
    *,
    release_id: int,
    audience: Audience,
    now: datetime,
    at: datetime | None = None,
    at_embargo: bool = False,
    advance_copy: bool = False,
    provider: str | None = None,
    template: str = "release",
    tracking: bool = True,
) -> Send:
    """Validate and store a scheduled send.

    ``advance_copy`` makes an embargoed advance copy: it carries the embargo notice, may go
    before the lift, and only to contacts tagged ``embargo.trusted_tag``. ``tracking`` False
    sends it without open pixel and rewritten links (so does ``tracking.enabled`` false).
    """
    audience.validate()
    provider_name = provider or settings.sending.provider
    check_adapter(settings, provider_name)
    with Session(engine, expire_on_commit=False) as session:
        release = get_release(session, release_id)
        if release.status not in SCHEDULABLE:
            raise ValidationError(
                f"release {release_id} is {release.status}: approve it first "
                f"(`distro release approve {release_id}`)"
                if release.status == ReleaseStatus.DRAFT
                else f"release {release_id} is {release.status} and cannot be sent"
            )
        for name in audience.lists:
            find_list(session, name)
        expression = send_expression(session.connection(), audience.where, audience.segment)
        members = audience_contact_ids(audience.lists, expression, now)
        if advance_copy:
            _check_advance_copy(session, settings, release, members, at, at_embargo)
        sample = _first_mailable(session, members, audience)
        # Render once for a real recipient so template errors surface now, with their line.
        environment = make_environment(settings.templates.folder)
        Composer(
            settings,
            environment,
            LinkSigner(secret_key(settings)),
            release,
            template,
            embargo_notice=advance_copy,
            tracked_send=0 if tracking and settings.tracking.enabled else None,
        ).render(0, sample)
        if advance_copy:
            moment, follows_embargo = (at or now), False
        else:
            moment, follows_embargo = _moment(
                release.embargo_at, release.embargo_tz, now, at, at_embargo
            )
        send = Send(
            release_id=release_id,
            list_names=list(audience.lists),
            where_expr=audience.where,
            segment_name=audience.segment,
            provider=provider_name,
            template=template,
            scheduled_at=moment,
            at_embargo=follows_embargo,
            embargo_notice=advance_copy,
            tracking=tracking,
            status=SendStatus.SCHEDULED,
        )
        session.add(send)
        if release.status == ReleaseStatus.APPROVED:  # a sent release may go to more lists
            move(release, ReleaseStatus.SCHEDULED)
            session.add(release)
        session.commit()
        return send


def _check_advance_copy(
    session: Session,
    settings: Settings,
    release: Release,
    members: Select[tuple[int]],
    at: datetime | None,
    at_embargo: bool,
) -> None:
    if release.embargo_at is None:
        raise ValidationError("an advance copy needs a release under embargo; this one has none")
    if at_embargo or (at is not None and at >= release.embargo_at):
        raise ValidationError(
            "an advance copy goes before the lift; at or after it, schedule an ordinary send"
        )
    tag = settings.embargo.trusted_tag
    untrusted = session.exec(
        select(func.count())
        .select_from(Contact)
        .where(col(Contact.id).in_(members))
        .where(col(Contact.id).not_in(tagged_contact_ids(tag)))
    ).one()
    if untrusted:
        raise EmbargoError(
            f"{untrusted} contacts in the audience are not embargo-trusted (tag {tag!r}): "
            "send the advance copy to a list of trusted contacts only, and the rest at the lift"
        )


def _first_mailable(session: Session, members: Select[tuple[int]], audience: Audience) -> Contact:
    suppressed = exists().where(col(Suppression.email) == col(Contact.email))
    query = (
        select(Contact)
        .where(col(Contact.id).in_(members))
        .where(Contact.status == "active", ~suppressed)
        .order_by(col(Contact.id))
        .limit(1)
    )
    contact = session.exec(query).first()
    if contact is None:
        total = session.exec(select(func.count()).select_from(members.subquery())).one()
        reason = "is empty" if not total else f"has {total} contacts, all of them suppressed"
        raise ValidationError(f"the audience ({audience.describe()}) {reason}")
    return contact


def _moment(
    embargo_at: datetime | None,
    embargo_tz: str,
    now: datetime,
    at: datetime | None,
    at_embargo: bool,
) -> tuple[datetime, bool]:
    """When the send fires, and whether it follows the embargo moment."""
    if at_embargo:
        if embargo_at is None:
            raise ValidationError("--at-embargo: the release has no embargo")
        return embargo_at, True
    if at is None:
        if embargo_at is not None and embargo_at > now:
            return embargo_at, True  # a release under embargo goes out at the lift by default
        return now, False
    if at < now - PAST_TOLERANCE:
        raise ValidationError(f"{at:%Y-%m-%d %H:%M} UTC is in the past")
    if embargo_at is not None and at < embargo_at:
        lift = show_moment(embargo_at, embargo_tz)
        raise EmbargoError(
            f"the send would go out before the embargo lifts at {lift}; "
            "schedule it at or after the lift (--at-embargo)"
        )
    return at, False
