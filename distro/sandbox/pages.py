"""The sandbox inbox: every accepted message, readable the way a journalist would see it, with
the provider API that accepted it.

Templates live in ``templates/web/sandbox`` (source checkout) or ``distro/_templates/web/sandbox``
(installed wheel). Autoescaping is on; the HTML part is shown inside ``<iframe sandbox srcdoc>``
so its scripts never run and its styles cannot leak into the page. Both parts are shown inert
(``distro.sandbox.inert``): no open pixel, links straight to their targets, so looking at the
inbox records no opens or clicks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import jinja2
from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse

from distro.rendering import packaged_templates
from distro.sandbox.inert import inert_html, inert_text

if TYPE_CHECKING:
    from distro.sandbox.app import Sandbox


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(packaged_templates() / "web" / "sandbox"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _base(request: Request) -> str:
    """The path prefix the app is mounted at ("" standalone, "/sandbox" inside distro)."""
    return str(request.scope.get("root_path", "")).rstrip("/")


def build_pages_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter()
    env = _environment()
    store = sandbox.store

    @router.get("/", response_class=HTMLResponse)
    def inbox(request: Request) -> HTMLResponse:
        page = env.get_template("inbox.html").render(
            base=_base(request),
            messages=store.messages(),
            counts=store.recipient_counts(),
            apis=store.api_counts(),
            faults={k: v for k, v in sandbox.faults.counts().items() if v},
        )
        return HTMLResponse(page)

    @router.get("/messages/{ref}", response_class=HTMLResponse)
    def message(request: Request, ref: str) -> HTMLResponse:
        found = store.get(ref)
        if found is None:
            raise HTTPException(404, f"no message {ref}")
        page = env.get_template("message.html").render(
            base=_base(request),
            message=found,
            html_body=inert_html(found.html_body),
            text_body=inert_text(found.text_body),
        )
        return HTMLResponse(page)

    return router
