"""A local emulator of email providers' APIs (Postmark, SendGrid, Mailgun, SES v2, Resend), with
an inbox, provider-shaped webhooks and injected faults.

distro mounts it at ``/sandbox`` so sends make real HTTP requests on a developer machine, in
tests and in benchmarks; ``run_standalone`` serves it on its own.
"""

from distro.sandbox.app import Sandbox, create_sandbox_app
from distro.sandbox.options import APIS, FaultOptions, SandboxOptions, WebhookOptions
from distro.sandbox.standalone import run_standalone
from distro.sandbox.store import SandboxStore, StoredMessage

__all__ = [
    "APIS",
    "FaultOptions",
    "Sandbox",
    "SandboxOptions",
    "SandboxStore",
    "StoredMessage",
    "WebhookOptions",
    "create_sandbox_app",
    "run_standalone",
]
