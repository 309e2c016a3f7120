"""Security headers on every response, set once for a whole app by a pure ASGI middleware.

Every answer (pages, the pixel, redirects, JSON, the 413 of the body limit, Starlette's 404 and
500) gets ``X-Content-Type-Options: nosniff``, a ``Referrer-Policy`` that keeps the signed tokens
in our URLs from leaking to the sites a page links to, and a Content-Security-Policy that runs no
script at all (distro's pages have none), allows the inline styles the templates use, and lets no
other site frame the page (``frame-ancestors 'none'``, and ``X-Frame-Options`` for old browsers).

A header the response already has is left alone: a route (or a mounted app, such as the sandbox
with its own policy) that sets one knows better.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _csp(img_src: str) -> str:
    return "; ".join(
        (
            "default-src 'none'",
            "style-src 'unsafe-inline'",
            f"img-src {img_src}",
            "form-action 'self'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
        )
    )


_COMMON = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}
#: distro's own pages: images from distro and from any https site (a release's pictures).
DISTRO_HEADERS: Mapping[str, str] = {
    **_COMMON,
    "Content-Security-Policy": _csp("'self' https: data:"),
}
#: The sandbox inbox shows each email's HTML in an ``<iframe sandbox srcdoc>`` (so its scripts
#: never run), which inherits this policy: the email's images may come from anywhere.
SANDBOX_HEADERS: Mapping[str, str] = {**_COMMON, "Content-Security-Policy": _csp("* data:")}


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, headers: Mapping[str, str]) -> None:
        self.app = app
        self.headers = [(name.lower().encode(), value.encode()) for name, value in headers.items()]

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        @functools.wraps(send)
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", ())}
                missing = [(n, v) for n, v in self.headers if n not in present]
                if missing:
                    message = {**message, "headers": [*message.get("headers", ()), *missing]}
            await send(message)

        await self.app(scope, receive, send_with_headers)
