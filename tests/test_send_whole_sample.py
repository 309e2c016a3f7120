"""The whole shared sample of journalists (244 valid rows, one of them ``josé.lópez@...``) sent
through every adapter: the HTTP ones against the sandbox's emulation of each provider's
documented API over loopback, SMTP against a local aiosmtpd relay with and without SMTPUTF8.

Every valid contact must end *sent* or *failed with a reason*, none queued, in flight or
claimed, each recipient handed over at most once, and the send finished. Before the adapters
prepared addresses per provider, ``email.utils.formataddr`` raised ``UnicodeEncodeError`` for
José's address, the batch was released and claimed again for ever and nothing was delivered.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select

from distro.audience.importer import import_contacts
from distro.config import Settings
from distro.db import make_engine, upgrade
from distro.models import Message, Send
from tests.conftest import make_settings
from tests.sandbox_support import TOKEN, live_sandbox
from tests.send_support import send_release_now
from tests.test_provider_smtp import Relay, _Controller
from tests.test_sandbox_adapters import CONFIGS

SAMPLE = Path(__file__).parent / "fixtures" / "journalists.csv"
JOSE = "josé.lópez@elnuevoherald.com"
#: Adapters that may hand over a non-ASCII local part.
UTF8_KINDS = {"mailgun", "smtp-utf8"}
KINDS = [*sorted(CONFIGS), "sandbox", "smtp", "smtp-utf8"]
MESSAGES = Message.__table__  # type: ignore[attr-defined]
SENDS = Send.__table__  # type: ignore[attr-defined]


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'distro.db'}")
    upgrade(engine)
    report = import_contacts(engine, SAMPLE, list_name="press")
    assert report.imported + report.updated >= 244
    yield engine
    engine.dispose()


def provider_table(kind: str, url: str, smtp_port: int) -> dict[str, Any]:
    if kind.startswith("smtp"):
        return {"type": "smtp", "host": "127.0.0.1", "port": smtp_port, "security": "none"}
    if kind == "sandbox":
        return {"type": "sandbox", "server_token": TOKEN, "base_url": url}
    return {**CONFIGS[kind], "base_url": url}


def send_all(engine: Engine, settings: Settings) -> int:
    return send_release_now(engine, settings, "Harbor opens")


@pytest.mark.parametrize("kind", KINDS)
def test_the_whole_sample_ends_sent_or_failed_with_a_reason(
    kind: str, engine: Engine, tmp_path: Path
) -> None:
    relay = Relay()
    controller = _Controller(
        relay, hostname="127.0.0.1", port=0, enable_SMTPUTF8=kind == "smtp-utf8"
    )
    controller.start()
    try:
        with live_sandbox() as live:
            settings = make_settings(
                f"sqlite:///{tmp_path / 'distro.db'}",
                providers={"under_test": provider_table(kind, live.url, controller.port)},
                sending={"provider": "under_test", "batch_size": 100},
            )
            send_id = send_all(engine, settings)
            stored = live.sandbox.store.messages()
    finally:
        controller.stop()

    with engine.connect() as conn:
        rows = conn.execute(
            select(
                MESSAGES.c.email, MESSAGES.c.status, MESSAGES.c.last_error, MESSAGES.c.lease_owner
            ).where(MESSAGES.c.send_id == send_id)
        ).all()
        send_status = conn.scalar(select(SENDS.c.status).where(SENDS.c.id == send_id))
    assert len(rows) >= 244
    statuses = Counter(row.status for row in rows)
    assert set(statuses) <= {"sent", "failed"}, statuses
    assert all(row.lease_owner is None for row in rows)
    failed = {row.email: row.last_error for row in rows if row.status == "failed"}
    assert all(failed.values()), failed  # every failure says why
    if kind in UTF8_KINDS:
        assert failed == {}
    else:
        assert set(failed) == {JOSE}
        assert "does not accept a non-ASCII local part" in failed[JOSE]
    assert send_status == "sent"

    # Each recipient handed over at most once, and display names as text, not encoded-words.
    if kind.startswith("smtp"):
        handed = [r for received in relay.received for r in received.rcpt_tos]
    else:
        handed = [r for m in stored for r in m.recipients]
        assert not any("=?utf-8?" in m.to.lower() for m in stored), [m.to for m in stored][:3]
    assert Counter(handed).most_common(1)[0][1] == 1
    assert len(handed) == statuses["sent"]
