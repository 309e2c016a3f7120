"""Pages for people who are not staff: the landing page, unsubscribing and beat preferences.

Unsubscribing follows RFC 8058: a POST to the link (which mail clients send with the body
``List-Unsubscribe=One-Click`` and no cookies) unsubscribes at once and answers 200, never a
redirect. A GET only shows a page, because link scanners fetch URLs on their own: there the
person confirms unsubscribing from everything, or keeps some of their beats (the preference
centre; see ``distro.audience.preferences`` for what that changes and
``distro.tracking.preference_centre`` for saving it). Dropping beats is also
stored as a ``beat_opted_out`` event, which does not suppress the address.

The signed token in the URL is the only credential and every change is a POST, so the forms need
no cookie and no CSRF token: a page elsewhere cannot make a browser post to a URL it does not
know. Someone already unsubscribed who follows the link again is told so and may subscribe again
(``distro.tracking.resubscribe``: only their own unsubscribe is lifted, never a bounce or a
complaint).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

import distro
from distro.audience.preferences import load_beat_choices
from distro.db import check_connection
from distro.tracking.links import LinkPurpose
from distro.tracking.preference_centre import save_beat_choices
from distro.tracking.resubscribe import (
    LinkRecipient,
    Standing,
    Subscription,
    link_recipient,
    resubscribe,
    subscription_of,
    unsubscribe,
)
from distro.web.context import AppContext, ContextDep

router = APIRouter()
#: The unsubscribe and preference forms; their request bodies are limited by ``limits.form_body``.
forms = APIRouter(prefix="/u")


def _page(context: AppContext, name: str, status: int = 200, **values: Any) -> HTMLResponse:
    html = context.pages.get_template(f"web/{name}").render(
        sender=context.settings.sending.from_name, version=distro.__version__, **values
    )
    return HTMLResponse(html, status_code=status)


@router.get("/", response_class=HTMLResponse)
def landing(context: ContextDep) -> HTMLResponse:
    return _page(context, "index.html", sandbox=context.sandbox_mounted)


@router.get("/healthz")
def health(context: ContextDep) -> dict[str, str]:
    check_connection(context.engine)
    return {"status": "ok", "version": distro.__version__}


def _recipient(context: AppContext, token: str) -> LinkRecipient | None:
    message_id = context.signer.verify(LinkPurpose.UNSUBSCRIBE, token)
    if message_id is None:
        return None
    return link_recipient(context.engine, message_id)


def _unsubscribed_page(context: AppContext, token: str, subscription: Subscription) -> HTMLResponse:
    """ "You are unsubscribed", with a way back only when they unsubscribed themselves."""
    return _page(
        context,
        "unsubscribed.html",
        email=subscription.email,
        blocked=subscription.standing == Standing.BLOCKED,
        resubscribe_action=f"/u/{token}/resubscribe",
    )


@forms.get("/{token}", response_class=HTMLResponse)
async def unsubscribe_page(token: str, context: ContextDep) -> HTMLResponse:
    found = await run_in_threadpool(_recipient, context, token)
    if found is None:
        return _page(context, "link_invalid.html", status=404)
    subscription = await run_in_threadpool(subscription_of, context.engine, found.email)
    if subscription.standing != Standing.SUBSCRIBED:
        return _unsubscribed_page(context, token, subscription)
    choices = await run_in_threadpool(load_beat_choices, context.engine, found.contact_id)
    return _page(
        context,
        "unsubscribe.html",
        email=found.email,
        action=f"/u/{token}",
        beats_action=f"/u/{token}/beats",
        choices=choices,
    )


@forms.post("/{token}", response_class=HTMLResponse)
async def unsubscribe_at_once(token: str, context: ContextDep) -> HTMLResponse:
    """RFC 8058 one-click, and the page's button: whatever the body, unsubscribe at once."""
    found = await run_in_threadpool(_recipient, context, token)
    if found is None:
        return _page(context, "link_invalid.html", status=404)
    await run_in_threadpool(unsubscribe, context.engine, found.message_id, found.email)
    subscription = await run_in_threadpool(subscription_of, context.engine, found.email)
    return _unsubscribed_page(context, token, subscription)


@forms.post("/{token}/resubscribe", response_class=HTMLResponse)
async def subscribe_again(token: str, context: ContextDep) -> HTMLResponse:
    """The unsubscribed page's form: lifts only their own unsubscribe (see the service)."""
    found = await run_in_threadpool(_recipient, context, token)
    if found is None:
        return _page(context, "link_invalid.html", status=404)
    subscription = await run_in_threadpool(
        resubscribe, context.engine, found.message_id, found.email
    )
    if subscription.standing != Standing.SUBSCRIBED:
        return _unsubscribed_page(context, token, subscription)
    return _page(context, "resubscribed.html", email=found.email, action=f"/u/{token}")


@forms.post("/{token}/beats", response_class=HTMLResponse)
async def choose_beats(token: str, request: Request, context: ContextDep) -> HTMLResponse:
    """The preference centre's form: the beats ticked are kept, the others dropped."""
    found = await run_in_threadpool(_recipient, context, token)
    if found is None:
        return _page(context, "link_invalid.html", status=404)
    form = await request.form()
    wanted = [value for value in form.getlist("beat") if isinstance(value, str)]
    saved = await run_in_threadpool(
        save_beat_choices, context.engine, found.contact_id, wanted, found.message_id, found.email
    )
    choices = saved.choices
    return _page(
        context,
        "preferences_saved.html",
        email=found.email,
        kept=[c.beat for c in choices if c.wanted],
        dropped=[c.beat for c in choices if not c.wanted],
        action=f"/u/{token}",
    )
