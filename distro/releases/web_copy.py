"""Which release a web-copy URL shows, and to whom: the read behind /releases/{slug}.

The web route verifies the signed token (if any) and renders; the database work is here, in one
read, so the route holds no session. A release's web copy exists only while it is scheduled or
sent (``lifecycle.web_copy_exists``); before it is public only the recipients of one of its
messages may read it (their token names the message).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine
from sqlmodel import col, select

from distro.db import reading_session
from distro.models import Message, Release, Send
from distro.releases.lifecycle import web_copy_exists, web_copy_is_public
from distro.releases.views import ReleaseView


@dataclass(frozen=True)
class WebCopy:
    """The release to show, and whether it is public (indexable, no token needed)."""

    release: ReleaseView
    public: bool


def find_web_copy(
    engine: Engine, slug: str, message_id: int | None, now: datetime
) -> WebCopy | None:
    """The web copy at ``slug`` as seen at ``now`` by the recipient of ``message_id`` (None:
    no valid token); None when there is none to show them, which the page gives as a 404."""
    with reading_session(engine) as session:
        release = session.exec(select(Release).where(Release.slug == slug)).first()
        if release is None or not web_copy_exists(release):
            return None
        public = web_copy_is_public(release, now)
        if not public:
            if message_id is None:
                return None
            sent_to = session.exec(
                select(col(Message.id))
                .join(Send, col(Send.id) == col(Message.send_id))
                .where(Message.id == message_id, Send.release_id == release.id)
            ).first()
            if sent_to is None:
                return None
        return WebCopy(ReleaseView.of(release), public)
