"""Scheduling a send: every check that can fail happens here, not at send time.

The audience must name something and reach someone (not all of it suppressed or left out for
having the advance copy), the provider must be configured, the template must render for a real
recipient of the audience, and the embargo must hold. The fire-time guard in
``distro.sending.expand`` checks the embargo again, because embargoes move. What scheduling
returns says whom the send would reach now (``distro.sending.forecast``) and when, in the zone
the moment was given in.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, Select, exists, func
from sqlmodel import Session, col, select

from distro.audience.lists import find_list
from distro.audience.segments import parse
from distro.audience.targeting import audience_contact_ids, send_expression, tagged_contact_ids
from distro.config import Settings
from distro.errors import EmbargoError, ValidationError
from distro.models import (
    Contact,
    Release,
    ReleaseStatus,
    Send,
    SendKind,
    Suppression,
)
from distro.moments import show_moment, show_moment_and_utc
from distro.providers import check_adapter
from distro.releases.datelines import schedule_warning
from distro.releases.lifecycle import move
from distro.releases.service import get_release
from distro.releases.settle import lock_release
from distro.sending.compose import composer_for
from distro.sending.forecast import AudienceForecast, Target, forecast
from distro.sending.send_states import initial_status

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


@dataclass(frozen=True)
class SendRequest:
    """What staff ask for when they schedule a send."""

    release_id: int
    audience: Audience
    at: datetime | None = None  # None: as soon as possible, or at the lift under embargo
    at_zone: str | None = None  # the zone ``at`` was given in, to show it back
    at_embargo: bool = False
    advance_copy: bool = False
    provider: str | None = None
    template: str = "release"
    tracking: bool = True
    include_advance_recipients: bool = False


@dataclass(frozen=True)
class ScheduledSend:
    """The stored send and its audience as it stands now."""

    send: Send
    forecast: AudienceForecast
    warnings: list[str] = field(default_factory=list)  # e.g. a stale dated dateline

    @property
    def moment(self) -> str:
        """When it goes, in the zone it was entered in and in UTC."""
        return show_moment_and_utc(self.send.scheduled_at, self.send.scheduled_tz)

    def as_dict(self) -> dict[str, Any]:
        send = self.send
        return {
            "send_id": send.id,
            "release_id": send.release_id,
            "kind": send.kind,
            "status": send.status,
            "scheduled_at": send.scheduled_at.isoformat(),
            "zone": send.scheduled_tz,
            "scheduled_local": self.moment,
            "provider": send.provider,
            "include_advance_recipients": send.include_advance_recipients,
            **self.forecast.as_dict(),
            "warnings": self.warnings,
        }


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
    include_advance_recipients: bool = False,
) -> Send:
    """``schedule`` for callers that want only the stored send."""
    request = SendRequest(
        release_id,
        audience,
        at=at,
        at_embargo=at_embargo,
        advance_copy=advance_copy,
        provider=provider,
        template=template,
        tracking=tracking,
        include_advance_recipients=include_advance_recipients,
    )
    return schedule(engine, settings, request, now).send


def schedule(
    engine: Engine, settings: Settings, request: SendRequest, now: datetime
) -> ScheduledSend:
    """Validate and store a scheduled send; say whom it would reach now.

    ``advance_copy`` makes an embargoed advance copy: it carries the embargo notice, may go
    before the lift, and only to contacts tagged ``embargo.trusted_tag``. Any other send leaves
    out contacts who have an advance copy of the release, unless ``include_advance_recipients``.
    ``tracking`` False sends it without open pixel and rewritten links (so does
    ``tracking.enabled`` false).
    """
    audience, release_id = request.audience, request.release_id
    audience.validate()
    if request.include_advance_recipients and request.advance_copy:
        raise ValidationError(
            "--include-advance-recipients is for the sends after an advance copy: "
            "an advance copy leaves no one out"
        )
    provider_name = request.provider or settings.sending.provider
    check_adapter(settings, provider_name)
    with Session(engine, expire_on_commit=False) as session:
        conn = session.connection()
        lock_release(conn, release_id)  # no cancel settles the release meanwhile
        release = get_release(session, release_id)
        _check_schedulable(release)
        for name in audience.lists:
            find_list(session, name)
        expression = send_expression(conn, audience.where, audience.segment)
        members = audience_contact_ids(audience.lists, expression, now)
        if request.advance_copy:
            _check_advance_copy(session, settings, release, members, request.at, request.at_embargo)
        target = Target(
            release_id,
            audience.lists,
            expression,
            advance_copy=request.advance_copy,
            trusted_tag=settings.embargo.trusted_tag,
            leave_out_advance=not request.include_advance_recipients,
        )
        expected = forecast(conn, target, now)
        _check_reaches_someone(expected, audience)
        # Render once for a real recipient so template errors surface now, with their line.
        composer_for(
            settings,
            release,
            template=request.template,
            advance_copy=request.advance_copy,
            tracking=request.tracking,
        ).render(0, _first_mailable(session, members))
        if request.advance_copy:
            moment, follows_embargo = (request.at or now), False
            kind = SendKind.ADVANCE_COPY
        else:
            moment, follows_embargo = _moment(
                release.embargo_at, release.embargo_tz, now, request.at, request.at_embargo
            )
            kind = SendKind.AT_LIFT if follows_embargo else SendKind.AT_TIME
        given_zone = request.at_zone if request.at is not None and not follows_embargo else None
        send = Send(
            release_id=release_id,
            list_names=list(audience.lists),
            where_expr=audience.where,
            segment_name=audience.segment,
            provider=provider_name,
            template=request.template,
            scheduled_at=moment,
            scheduled_tz=given_zone or release.embargo_tz or "UTC",
            at_embargo=follows_embargo,
            embargo_notice=request.advance_copy,
            kind=kind,
            include_advance_recipients=request.include_advance_recipients,
            tracking=request.tracking,
            status=initial_status(kind),
        )
        session.add(send)
        if release.status == ReleaseStatus.APPROVED:  # a sent release may go to more lists
            move(release, ReleaseStatus.SCHEDULED)
            session.add(release)
        session.commit()
        stale = schedule_warning(release, send)
        return ScheduledSend(send, expected, [stale] if stale else [])


def _check_schedulable(release: Release) -> None:
    if release.status in SCHEDULABLE:
        return
    rid = release.id
    if release.status == ReleaseStatus.DRAFT:
        raise ValidationError(
            f"release {rid} is a draft: approve it first (`distro release approve {rid}`)"
        )
    raise ValidationError(
        f"release {rid} is withdrawn and cannot be sent: make it a draft again with "
        f"`distro release reopen {rid}`, approve it, then schedule it"
    )


def _check_reaches_someone(expected: AudienceForecast, audience: Audience) -> None:
    if expected.to_send:
        return
    if not expected.audience:
        reason = "is empty"
    elif not expected.left_out:
        reason = f"has {expected.audience} contacts, all of them suppressed"
    else:
        reason = (
            f"has {expected.audience} contacts: {expected.suppressed} suppressed and "
            f"{expected.left_out} with an advance copy of the release already (add "
            "--include-advance-recipients to send them this one too)"
        )
    raise ValidationError(f"the audience ({audience.describe()}) {reason}")


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


def _first_mailable(session: Session, members: Select[tuple[int]]) -> Contact:
    """A contact of the audience to render the template for (``_check_reaches_someone`` made
    sure there is one)."""
    suppressed = exists().where(col(Suppression.email) == col(Contact.email))
    query = (
        select(Contact)
        .where(col(Contact.id).in_(members))
        .where(Contact.status == "active", ~suppressed)
        .order_by(col(Contact.id))
        .limit(1)
    )
    return session.exec(query).one()


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
