"""A local emulator of Postmark's email API, with an inbox and Postmark-shaped webhooks.

distro mounts it at ``/sandbox`` so sends make real HTTP requests on a developer machine, in
tests and in benchmarks; ``run_standalone`` serves it on its own.
"""

from distro.sandbox.app import Sandbox, SandboxOptions, create_sandbox_app
from distro.sandbox.standalone import run_standalone
from distro.sandbox.store import SandboxStore, StoredMessage

__all__ = [
    "Sandbox",
    "SandboxOptions",
    "SandboxStore",
    "StoredMessage",
    "create_sandbox_app",
    "run_standalone",
]
