"""The sandbox's state and its FastAPI app, usable standalone or mounted at ``/sandbox``.

One app speaks every emulated provider API (Postmark, SendGrid, Mailgun, SES v2, Resend), keeps
one inbox, posts each message's webhooks in the format of the API that accepted it, and injects
faults into the sending endpoints as the options say.

Nothing starts here at import or app start-up: mounted sub-apps get no lifespan events, so the
webhook threads start on the first accepted message and the owner calls ``Sandbox.close()``.
"""

from __future__ import annotations

from fastapi import FastAPI

from distro.sandbox import mailgun_api, postmark_api, resend_api, sendgrid_api, ses_api
from distro.sandbox.exposure import check_exposure
from distro.sandbox.fault_middleware import FaultMiddleware, SendingRoute
from distro.sandbox.faults import FaultInjector
from distro.sandbox.keys_api import build_keys_router
from distro.sandbox.mailgun_api import build_mailgun_router
from distro.sandbox.messages_api import build_messages_router
from distro.sandbox.options import SandboxOptions
from distro.sandbox.pages import build_pages_router
from distro.sandbox.postmark_api import build_api_router
from distro.sandbox.postmark_search import build_search_router
from distro.sandbox.resend_api import build_resend_router
from distro.sandbox.sendgrid_api import build_sendgrid_router
from distro.sandbox.ses_api import build_ses_router
from distro.sandbox.store import SandboxStore, StoredMessage
from distro.sandbox.webhooks import WebhookDispatcher
from distro.web.hardening import HardenedApp
from distro.web.security_headers import SANDBOX_HEADERS

#: Each API's sending endpoints and its error shape, for fault injection.
SENDING_ROUTES = (
    SendingRoute("postmark", postmark_api.SENDING_PATH, postmark_api.fault_response),
    SendingRoute("sendgrid", sendgrid_api.SENDING_PATH, sendgrid_api.fault_response),
    SendingRoute("mailgun", mailgun_api.SENDING_PATH, mailgun_api.fault_response),
    SendingRoute("ses", ses_api.SENDING_PATH, ses_api.fault_response),
    SendingRoute("resend", resend_api.SENDING_PATH, resend_api.fault_response),
)


class Sandbox:
    """The store of accepted messages, the webhook dispatcher that reports on them, and the
    fault injector whose counts the JSON API shows."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.store = SandboxStore(options.max_stored)
        self.webhooks = WebhookDispatcher(options.webhooks)
        self.faults = FaultInjector(options.faults)

    def accept(self, message: StoredMessage) -> None:
        """Record an accepted message and queue its webhooks."""
        self.store.add(message)
        self.webhooks.submit(message)

    def wait_idle(self, timeout: float) -> bool:
        """True once no webhook is pending (for tests and the demo)."""
        return self.webhooks.wait_idle(timeout)

    def close(self) -> None:
        """Flush pending webhooks (bounded wait), then stop the dispatcher threads."""
        self.webhooks.close()


def create_sandbox_app(options: SandboxOptions) -> tuple[FastAPI, Sandbox]:
    """A FastAPI app emulating the providers' APIs, and the Sandbox behind it (close it).

    ConfigError for a non-loopback ``listen_host`` unless exposure was asked for.
    """
    check_exposure(options.listen_host, options.expose_beyond_loopback)
    sandbox = Sandbox(options)
    max_body = options.max_body_bytes
    app = HardenedApp(
        security_headers=SANDBOX_HEADERS,
        body_limit=lambda _path: max_body,
        title="distro sandbox ESP",
        description="A local emulator of email providers' APIs, with an inbox of what it got.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    for router in (
        build_api_router(sandbox),
        build_search_router(sandbox),
        build_sendgrid_router(sandbox),
        build_mailgun_router(sandbox),
        build_ses_router(sandbox),
        build_resend_router(sandbox),
        build_keys_router(sandbox),
        build_messages_router(sandbox),
        build_pages_router(sandbox),
    ):
        app.include_router(router)
    app.add_middleware(FaultMiddleware, injector=sandbox.faults, routes=SENDING_ROUTES)
    return app, sandbox
