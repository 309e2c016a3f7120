"""The web copy of a release, at a stable URL: /releases/{slug}.

Before the release is public (sent, and any embargo lifted) the page is a 404 to everyone except
recipients, whose emails link to it with a signed token naming their message; they see it with
an embargo banner, and the page is marked noindex. After the lift it is public at the same URL.
A withdrawn release is gone for everyone, and so is one reopened as a draft to be corrected until
it goes out again (``lifecycle.web_copy_exists``).
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from distro.models import Message, Release, Send
from distro.models.types import utcnow
from distro.releases.embargo import notice_text
from distro.releases.lifecycle import web_copy_exists, web_copy_is_public
from distro.sending.compose import release_context
from distro.tracking.links import LinkPurpose
from distro.web.context import AppContext, ContextDep

router = APIRouter()

NOINDEX = {"X-Robots-Tag": "noindex, nofollow, noarchive"}


def _recipient_of(context: AppContext, session: Session, release: Release, token: str) -> bool:
    message_id = context.signer.verify(LinkPurpose.WEB_COPY, token)
    if message_id is None:
        return False
    found = session.exec(
        select(col(Message.id))
        .join(Send, col(Send.id) == col(Message.send_id))
        .where(Message.id == message_id, Send.release_id == release.id)
    ).first()
    return found is not None


def _page(context: AppContext, slug: str, token: str | None) -> HTMLResponse:
    now = utcnow()
    with Session(context.engine) as session:
        release = session.exec(select(Release).where(Release.slug == slug)).first()
        if release is None or not web_copy_exists(release):
            return _not_found(context)
        public = web_copy_is_public(release, now)
        if not public and not (token and _recipient_of(context, session, release, token)):
            return _not_found(context)
    embargoed = release.embargo_at is not None and release.embargo_at > now
    html = context.pages.get_template("web/release.html").render(
        release=release_context(release),
        embargo_notice=notice_text(release.embargo_at, release.embargo_tz)
        if embargoed and release.embargo_at
        else "",
        indexable=public,
        sender=context.settings.sending.from_name,
    )
    return HTMLResponse(html, headers={} if public else NOINDEX)


def _not_found(context: AppContext) -> HTMLResponse:
    html = context.pages.get_template("web/not_found.html").render(
        sender=context.settings.sending.from_name
    )
    return HTMLResponse(html, status_code=404, headers=NOINDEX)


@router.get("/releases/{slug}", response_class=HTMLResponse)
async def web_copy(slug: str, context: ContextDep, t: str | None = None) -> HTMLResponse:
    return await run_in_threadpool(_page, context, slug, t)
