"""The preference centre's write: a journalist keeps some of their beats and drops the others.

It lives in tracking, not audience, because dropping a beat is also recorded as a
``beat_opted_out`` event on the message whose link was used (its own outcome in reports, never an
unsubscribe), and tracking already builds on audience; audience must not import tracking back.
What a choice means for sends stays in ``distro.audience.preferences``.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Engine, delete

from distro.audience.preferences import OPT_OUTS, BeatChoice, beat_choices
from distro.db import writing
from distro.models import EventType
from distro.models.types import utcnow
from distro.tracking.event import NormalisedEvent, OptOutScope
from distro.tracking.events import store_in


def _opt_out_event(
    message_id: int, email: str, dropped: list[str], at: datetime
) -> NormalisedEvent:
    return NormalisedEvent(
        type=EventType.BEAT_OPTED_OUT,
        provider_event_id=f"beat-opt-out:{message_id}:{','.join(dropped)}",
        occurred_at=at,
        recipient=email,
        message_id=message_id,
        signed_link=True,
        description=f"preference centre: no more {', '.join(dropped)}",
        # The scope kept so that code reading the older form never takes it for an unsubscribe.
        scope=OptOutScope.BEATS,
        beats=tuple(dropped),
    )


class SavedChoices(NamedTuple):
    choices: list[BeatChoice]  # as stored now
    dropped: list[str]  # the beats this change opted out of


def save_beat_choices(
    engine: Engine,
    contact_id: int,
    wanted: Collection[str],
    message_id: int | None,
    email: str = "",
) -> SavedChoices:
    """Record that the contact wants only ``wanted`` of their beats (others named are ignored).

    Beats dropped are also stored, in the same transaction, as one ``beat_opted_out`` event on
    the message whose link was used: its own outcome in reports, never an unsubscribe (the
    address is not suppressed).
    """
    with writing(engine) as conn:
        choices = beat_choices(conn, contact_id)
        keep = {beat.lower() for beat in wanted}
        drop = [c.beat for c in choices if c.beat not in keep and c.wanted]
        back = [c.beat for c in choices if c.beat in keep and not c.wanted]
        if back:
            conn.execute(
                delete(OPT_OUTS).where(
                    OPT_OUTS.c.contact_id == contact_id, OPT_OUTS.c.beat.in_(back)
                )
            )
        if drop:
            now = utcnow()
            rows: list[dict[str, Any]] = [
                {
                    "contact_id": contact_id,
                    "beat": beat,
                    "message_id": message_id,
                    "created_at": now,
                }
                for beat in drop
            ]
            conn.execute(OPT_OUTS.insert(), rows)
            if message_id is not None:
                store_in(conn, "distro", [_opt_out_event(message_id, email, drop, now)])
        return SavedChoices(beat_choices(conn, contact_id), drop)
