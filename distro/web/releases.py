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
from starlette.concurrency import run_in_threadpool

from distro.models.types import utcnow
from distro.releases.embargo import notice_text
from distro.releases.web_copy import find_web_copy
from distro.sending.compose import release_context
from distro.tracking.links import LinkPurpose
from distro.web.context import AppContext, ContextDep

router = APIRouter()

NOINDEX = {"X-Robots-Tag": "noindex, nofollow, noarchive"}


def _page(context: AppContext, slug: str, token: str | None) -> HTMLResponse:
    now = utcnow()
    # The token names a message; the service checks it is one of this release's.
    message_id = context.signer.verify(LinkPurpose.WEB_COPY, token) if token else None
    found = find_web_copy(context.engine, slug, message_id, now)
    if found is None:
        return _not_found(context)
    release, public = found.release, found.public
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
