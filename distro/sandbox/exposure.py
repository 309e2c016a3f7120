"""Who may reach a sandbox: this machine only, unless exposing it was asked for by name.

The sandbox answers without credentials with its inbox (every email sent through it, with each
recipient's signed unsubscribe and web-copy links), its message API and its signing keys
(``/keys``: the secrets its webhooks are signed with, which distro believes). That is what a
developer machine needs and what no network should see, so a sandbox is only built for a
loopback listen address, or when ``--expose-sandbox`` says its exposure is wanted.
"""

from __future__ import annotations

from distro.errors import ConfigError
from distro.web.server import is_loopback

EXPOSE_FLAG = "--expose-sandbox"


def check_exposure(listen_host: str, expose: bool) -> None:
    """Raise ConfigError for a sandbox on a non-loopback address without ``expose``."""
    if expose or is_loopback(listen_host):
        return
    shown = listen_host or "every interface"
    raise ConfigError(
        f"refusing to serve the sandbox on {shown}, beyond loopback: anyone who reaches it could "
        "read its inbox, its message API and its signing keys; listen on 127.0.0.1, use a real "
        f"provider, or pass {EXPOSE_FLAG} to expose them"
    )
