"""Anything unforeseen on the send path is caught at the batch: its messages end failed with the
error (or go back, when the error is clearly passing), the sender lives on and the send ends.

Before, ``Sender.run_once`` released the claim and raised: the same batch was claimed, raised
again and the send never finished.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from distro.config import secret_key
from distro.models import MessageStatus
from distro.models.types import utcnow
from distro.providers.base import OutboundEmail, Provider, SendResult
from distro.rendering import make_environment
from distro.sending import queue
from distro.sending.engine import ProviderPool, Sender
from distro.tracking.links import LinkSigner
from tests.conftest import make_settings
from tests.factories import messages_of
from tests.test_queue import started_send


class Broken(Provider):
    """An adapter with a bug: it raises something no one classified."""

    max_batch = 500

    def __init__(self) -> None:
        super().__init__("sandbox")
        self.calls = 0

    def send_batch(
        self, emails: Sequence[OutboundEmail], *, batch_key: str = ""
    ) -> list[SendResult]:
        self.calls += 1
        raise KeyError("an adapter bug")


def sender_with(engine: Engine, factory: object) -> Sender:
    settings = make_settings(engine.url.render_as_string(hide_password=False))
    pool = ProviderPool(settings, factory)  # type: ignore[arg-type]
    signer = LinkSigner(secret_key(settings))
    return Sender(settings, engine, make_environment(None), signer, pool, utcnow)


def run_dry(sender: Sender) -> int:
    """Batches run until nothing is claimable; never more than a few."""
    for count in range(10):
        if sender.run_once("w") is None:
            return count
    pytest.fail("the same batch kept coming back")


def test_an_adapter_bug_fails_the_batch_once_with_the_error(engine: Engine) -> None:
    send_id = started_send(engine, 4)
    broken = Broken()
    sender = sender_with(engine, lambda name: broken)
    assert run_dry(sender) == 1
    assert broken.calls == 1  # never handed over again
    messages = messages_of(engine, send_id)
    assert {m.status for m in messages} == {MessageStatus.FAILED}
    assert all("unexpected error" in (m.last_error or "") for m in messages)
    assert all("an adapter bug" in (m.last_error or "") for m in messages)
    assert not queue.has_pending_work(engine, utcnow())


def test_an_error_before_the_hand_over_fails_the_claimed_rows(engine: Engine) -> None:
    send_id = started_send(engine, 3)

    def cannot_build(name: str) -> Provider:
        raise RuntimeError("adapter cannot be built")

    assert run_dry(sender_with(engine, cannot_build)) == 1
    messages = messages_of(engine, send_id)
    assert {m.status for m in messages} == {MessageStatus.FAILED}
    assert all("adapter cannot be built" in (m.last_error or "") for m in messages)
    assert all(m.lease_owner is None for m in messages)
    with engine.connect() as conn:  # the broken batch was the whole send: it finished
        status = conn.scalar(select(queue.SENDS.c.status).where(queue.SENDS.c.id == send_id))
    assert status == "sent"


def test_a_passing_database_error_gives_the_batch_back(engine: Engine) -> None:
    send_id = started_send(engine, 2)

    def locked(name: str) -> Provider:
        raise OperationalError("UPDATE", {}, Exception("database is locked"))

    sender = sender_with(engine, locked)
    assert sender.run_once("w") is not None
    messages = messages_of(engine, send_id)
    assert {m.status for m in messages} == {MessageStatus.QUEUED}
    assert all(m.lease_owner is None for m in messages)
