"""The sandbox's state and its FastAPI app, usable standalone or mounted at ``/sandbox``.

Nothing starts here at import or app start-up: mounted sub-apps get no lifespan events, so the
webhook threads start on the first accepted message and the owner calls ``Sandbox.close()``.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import FastAPI

from distro.sandbox.messages_api import build_messages_router
from distro.sandbox.pages import build_pages_router
from distro.sandbox.postmark_api import build_api_router
from distro.sandbox.store import SandboxStore, StoredMessage
from distro.sandbox.webhooks import WebhookDispatcher


@dataclass(frozen=True)
class SandboxOptions:
    """How one sandbox behaves."""

    server_tokens: frozenset[str]  # accepted X-Postmark-Server-Token values
    webhook_url: str = ""  # where to POST Postmark-format webhooks; "" = don't post
    webhook_username: str = ""  # HTTP Basic credentials put on every webhook POST
    webhook_password: str = ""
    webhook_attempts: int = 5  # retries with exponential backoff on non-2xx / connection errors


class Sandbox:
    """The store of accepted messages plus the webhook dispatcher that reports on them."""

    def __init__(self, options: SandboxOptions) -> None:
        self.options = options
        self.store = SandboxStore()
        self.webhooks = WebhookDispatcher(
            options.webhook_url,
            username=options.webhook_username,
            password=options.webhook_password,
            attempts=options.webhook_attempts,
        )

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
    """A FastAPI app emulating Postmark, and the Sandbox behind it (close it when done)."""
    sandbox = Sandbox(options)
    app = FastAPI(
        title="distro sandbox ESP",
        description="A local emulator of Postmark's email API, with an inbox of what it got.",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.include_router(build_api_router(sandbox))
    app.include_router(build_messages_router(sandbox))
    app.include_router(build_pages_router(sandbox))
    return app, sandbox
