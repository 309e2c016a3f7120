"""Each provider adapter against the sandbox's emulation of its API, over real loopback HTTP.

The adapter is built the way distro builds it (``build_provider`` from ``Settings``), with its
base_url pointed at the sandbox; the sandbox's record must then show every recipient exactly
once, with the adapter's own message id and that recipient's personalised body.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from distro.config import Settings
from distro.errors import OutcomeUnknownError
from distro.providers import build_provider
from distro.providers.base import OutboundEmail
from distro.sandbox import FaultOptions
from distro.sandbox.faults import Fault
from tests.conftest import make_settings
from tests.sandbox_support import (
    SES_KEY_ID,
    SES_REGION,
    SES_SECRET,
    TOKEN,
    LiveSandbox,
    custom_ids,
    live_sandbox,
    seeded,
)

#: Provider type -> its config table (base_url is added); the sandbox accepts these secrets.
CONFIGS: dict[str, dict[str, Any]] = {
    "postmark": {"type": "postmark", "server_token": TOKEN},
    "sendgrid": {"type": "sendgrid", "api_key": TOKEN},
    "mailgun": {"type": "mailgun", "api_key": TOKEN, "domain": "mg.acme.example"},
    "resend": {"type": "resend", "api_key": TOKEN},
    "ses": {
        "type": "ses",
        "region": SES_REGION,
        "access_key_id": SES_KEY_ID,
        "secret_access_key": SES_SECRET,
    },
}
RECIPIENTS = 40


@pytest.fixture
def live() -> Iterator[LiveSandbox]:
    with live_sandbox() as sandbox:
        yield sandbox


def outbound(index: int) -> OutboundEmail:
    name = f"Reporter {index}"
    return OutboundEmail(
        message_id=1000 + index,
        to_email=f"reporter{index}@news{index % 3}.example",
        to_name=name,
        subject="Embargoed until 09:00: Acme launches",
        html=f"<p>Dear {name},</p><p>Read it at <a href='https://x.example/r/{index}'>x</a></p>",
        text=f"Dear {name},\n\nRead it at https://x.example/r/{index}\n",
        from_email="press@acme.example",
        from_name="Acme Press Office",
        reply_to="desk@acme.example",
        headers={
            "List-Unsubscribe": f"<https://x.example/u/token{index}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        tag="release-7",
    )


def settings_for(kind: str, live: LiveSandbox, tmp_path: Path) -> Settings:
    return make_settings(
        f"sqlite:///{tmp_path / 'distro.db'}",
        providers={"under_test": {**CONFIGS[kind], "base_url": live.url}},
        sending={"provider": "under_test"},
    )


@pytest.mark.parametrize("kind", sorted(CONFIGS))
def test_adapter_sends_each_recipient_exactly_once(
    live: LiveSandbox, kind: str, tmp_path: Path
) -> None:
    provider = build_provider(settings_for(kind, live, tmp_path))
    emails = [outbound(i) for i in range(RECIPIENTS)]
    try:
        results: list[Any] = []
        for start in range(0, len(emails), provider.max_batch):
            results += provider.send_batch(emails[start : start + provider.max_batch])
    finally:
        provider.close()

    assert [r.message_id for r in results] == [e.message_id for e in emails]
    assert all(r.accepted and r.provider_message_id for r in results), results
    assert live.sandbox.store.recipient_counts() == {e.to_email: 1 for e in emails}
    assert custom_ids(live) == {e.to_email: str(e.message_id) for e in emails}

    by_recipient = {m.recipients[0]: m for m in live.sandbox.store.messages()}
    for email_ in emails:
        stored = by_recipient[email_.to_email]
        assert stored.api == kind
        assert stored.subject == email_.subject
        assert stored.text_body.strip() == email_.text.strip()
        assert stored.html_body.strip() == email_.html.strip()
        headers = dict(stored.headers)
        assert headers["List-Unsubscribe"] == email_.headers["List-Unsubscribe"]
        assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_resend_batch_resent_after_a_lost_answer_is_sent_once(tmp_path: Path) -> None:
    """The answer to the first call is lost after the sandbox stored the batch; the engine's
    retry under the same batch key gets the original answer and nothing is sent twice."""
    options = seeded(FaultOptions(rate_drop_after=0.5), Fault.DROP_AFTER, None)
    with live_sandbox(options) as live:
        provider = build_provider(settings_for("resend", live, tmp_path))
        emails = [outbound(i) for i in range(10)]
        try:
            with pytest.raises(OutcomeUnknownError):
                provider.send_batch(emails, batch_key="send-1/batch-1")
            assert len(live.sandbox.store) == 10
            results = provider.send_batch(emails, batch_key="send-1/batch-1")
        finally:
            provider.close()
        assert all(r.accepted for r in results)
        assert live.sandbox.store.recipient_counts() == {e.to_email: 1 for e in emails}
        stored_ids = {m.message_id for m in live.sandbox.store.messages()}
        assert {r.provider_message_id for r in results} == stored_ids


def test_postmark_lookup_finds_what_a_lost_answer_accepted(tmp_path: Path) -> None:
    """Postmark has no idempotency key: distro reconciles through the message search."""
    with live_sandbox(FaultOptions(rate_drop_after=1.0)) as live:
        provider = build_provider(settings_for("postmark", live, tmp_path))
        emails = [outbound(i) for i in range(5)]
        try:
            with pytest.raises(OutcomeUnknownError):
                provider.send_batch(emails)
            found = provider.lookup([e.message_id for e in emails] + [999_999])
        finally:
            provider.close()
        stored = {m.custom_id: m.message_id for m in live.sandbox.store.messages()}
        assert found == {**{e.message_id: stored[str(e.message_id)] for e in emails}, 999_999: None}
