"""A release sent at once in-process: scheduled to a list, fired, and handed over batch by batch
by a real Sender until nothing is left, for tests about what reaches the provider."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from distro.config import Settings, secret_key
from distro.models.types import utcnow
from distro.rendering import make_environment
from distro.sending.engine import ProviderPool, Sender
from distro.sending.expand import FireOutcome, fire_send
from distro.sending.scheduling import Audience, schedule_send
from distro.tracking.links import LinkSigner
from tests.factories import add_release

#: Far more batches than any test's audience needs: running into it means the send loops.
MAX_BATCHES = 1000


def send_release_now(
    engine: Engine, settings: Settings, title: str, list_name: str = "press"
) -> int:
    """Send a new release titled ``title`` to ``list_name`` now; the send's id."""
    release = add_release(engine, title=title)
    assert release.id is not None
    now = utcnow()
    send = schedule_send(
        engine, settings, release_id=release.id, audience=Audience([list_name]), now=now
    )
    assert send.id is not None
    assert fire_send(engine, settings, send.id, now) == FireOutcome.STARTED
    providers = ProviderPool(settings)
    sender = Sender(
        settings,
        engine,
        make_environment(None),
        LinkSigner(secret_key(settings)),
        providers,
        utcnow,
    )
    try:
        for _ in range(MAX_BATCHES):
            if sender.run_once("test") is None:
                break
        else:
            pytest.fail("the send never ran dry")
    finally:
        providers.close()
    return send.id
