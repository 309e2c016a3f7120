"""An event is applied to a message only when it reports that message's recipient.

The attack this closes (issue 11): with the sandbox's well-known token, mail sent to
``complaint@attacker.example`` with ``Metadata: {"distro_message_id": "6"}`` came back as a
complaint that suppressed message 6's real recipient. Here: that attack end to end through the
real app, on SQLite and PostgreSQL; the same for every provider format at its webhook route, by
our id and by the provider's message id; what counts as the same address; and what staff see
(``distro report``, ``distro sends``, ``distro events refused``)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine, update

from distro.config_providers import SandboxProvider
from distro.models import EventType, MessageStatus
from distro.models.types import utcnow
from distro.outgoing.batches import matching_events
from distro.reports import build_report, csv_out, html
from distro.reports.listing import list_sends
from distro.sandbox.postmark_api import TOKEN_HEADER
from distro.tracking.event import NormalisedEvent
from distro.tracking.events import store_events
from distro.tracking.refused import list_refused
from tests.cli_support import run
from tests.conftest import LiveDistro
from tests.factories import messages_of
from tests.test_webhooks import fired_send
from tests.test_webhooks_support import (
    MESSAGES,
    LiveFactory,
    handed_over,
    live_factory,
    statuses,
    stored_events,
    suppressions,
)
from tests.webhook_samples import (
    FORMATS,
    PROVIDERS,
    all_formats,
    complaint,
    post_authenticated,
    signing_keys,
)

__all__ = ["live_factory"]  # the fixture, imported for pytest

ATTACKER = "complaint@attacker.example"


def cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``distro ARGS`` as staff run it, on the database of the test."""
    return run(
        Path.cwd(),
        *args,
        env={"DISTRO_DATABASE__URL": database_url, "COLUMNS": "200", "NO_COLOR": "1"},
    )


def outgoing(engine: Engine, send_id: int | None) -> list[dict[str, Any]]:
    """What an outgoing webhook following every event from the start (of one send, or of all)
    is given: the endpoint's row needs only these fields."""
    endpoint: Any = SimpleNamespace(cursor_event_id=0, event_types=[], send_id=send_id)
    with engine.connect() as conn:
        return matching_events(conn, endpoint, 10**9, None)


# --- the attack, end to end ------------------------------------------------------------------


@pytest.fixture
def live(any_engine: Engine, live_distro_factory: Callable[..., LiveDistro]) -> LiveDistro:
    return live_distro_factory(any_engine)


def test_the_sandbox_attack_changes_nothing_and_staff_see_it(live: LiveDistro) -> None:
    engine = live.engine
    send_id = fired_send(live, 2)
    victim, bystander = messages_of(engine, send_id)
    with engine.begin() as conn:  # handed over, so that a complaint could move them
        conn.execute(update(MESSAGES).values(status=MessageStatus.SENT, sent_at=utcnow()))
    config = live.settings.providers["sandbox"]
    assert isinstance(config, SandboxProvider)
    answer = httpx.post(
        f"{live.url}/sandbox/email",
        headers={TOKEN_HEADER: config.server_token.get_secret_value()},
        json={
            "From": "someone@attacker.example",
            "To": ATTACKER,
            "Subject": "hello",
            "TextBody": "hello",
            "Metadata": {"distro_message_id": str(victim.id)},
        },
        timeout=10,
    )
    assert answer.status_code == 200, answer.text
    assert live.sandbox is not None
    assert live.sandbox.wait_idle(30), "the sandbox's webhooks did not all arrive"

    # Nothing moved, nobody suppressed: not the victim, not the attacker's own address.
    assert statuses(engine, [victim, bystander]) == [MessageStatus.SENT, MessageStatus.SENT]
    assert suppressions(engine) == {}
    rows = stored_events(engine)
    assert sorted(r.type for r in rows) == [EventType.COMPLAINED, EventType.DELIVERED]
    for row in rows:
        assert row.message_id is None
        assert (row.claimed_message_id, row.claimed_send_id) == (victim.id, send_id)
        assert row.recipient == ATTACKER
        assert "by its distro id" in row.unmatched_reason

    # Counted in the report (in none of its figures), in the sends list, and listed.
    report = build_report(engine, send_id)
    assert report.refused_events == 2
    assert (report.delivered, report.complained) == (0, 0)
    assert report.refused_note.startswith("2 provider events named send")

    # Outgoing webhooks never get them as the victim's events.
    assert outgoing(engine, send_id) == []
    forwarded = outgoing(engine, None)
    assert [(e["message_id"], e["send_id"], e["recipient"]) for e in forwarded] == [
        (None, None, ATTACKER)
    ] * 2

    assert report.as_dict()["refused_events"] == 2
    assert ("send", "", "refused_events", 2) in list(csv_out.report_rows(report))
    page = "".join(html.report_chunks(report, None))
    assert "2 provider events named send" in page
    assert [(s.send_id, s.refused_events) for s in list_sends(engine)] == [(send_id, 2)]
    assert [(e.recipient, e.claimed_recipient, e.type) for e in list_refused(engine)] == [
        (ATTACKER, victim.email, EventType.COMPLAINED),
        (ATTACKER, victim.email, EventType.DELIVERED),
    ]


def test_staff_see_refused_events_in_the_report_the_sends_list_and_their_own_list(
    engine: Engine, live_distro_factory: Callable[..., LiveDistro]
) -> None:
    live = live_distro_factory(engine)
    (victim,) = handed_over(engine, live.settings, "sandbox", ["victim@news.example"])
    forged = [
        complained(ATTACKER, victim.id),
        NormalisedEvent(EventType.DELIVERED, "d-1", utcnow(), ATTACKER, message_id=victim.id),
    ]
    assert store_events(engine, "sandbox", forged) == 2
    send_id = victim.send_id
    url = engine.url.render_as_string(hide_password=False)
    note = (
        f"2 provider events named send {send_id}'s messages with another recipient (or none) "
        f"and were not applied; `distro events refused --send {send_id}` lists them."
    )
    shown = cli(url, "report", str(send_id))
    assert shown.returncode == 0, shown.stderr
    assert note in shown.stdout
    assert note in cli(url, "sends").stdout
    refused = json.loads(cli(url, "events", "refused", "--send", str(send_id), "--json").stdout)
    assert [(e["recipient"], e["claimed_recipient"], e["type"]) for e in refused] == [
        (ATTACKER, victim.email, "delivered"),
        (ATTACKER, victim.email, "complained"),
    ]
    table = cli(url, "events", "refused")
    assert table.returncode == 0, table.stderr
    assert ATTACKER in table.stdout
    assert f"message {victim.id} (send {send_id}) to {victim.email}" in table.stdout


def test_listing_says_when_there_is_nothing_and_refuses_an_unknown_send_in_one_line(
    engine: Engine,
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    assert cli(url, "events", "refused").stdout.strip() == "No refused events."
    done = cli(url, "events", "refused", "--send", "9")
    assert done.returncode == 1
    assert done.stderr.strip() == "error: no send 9 (see `distro sends`)"


# --- every provider format, at its webhook route --------------------------------------------


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    return signing_keys()


@pytest.mark.parametrize("wire_format", FORMATS)
def test_every_format_applies_an_event_only_to_the_message_of_its_recipient(
    wire_format: str, engine: Engine, live_factory: LiveFactory, keys: dict[str, str]
) -> None:
    live = all_formats(engine, live_factory, keys)
    ana, ben = handed_over(
        engine,
        live.settings,
        PROVIDERS[wire_format],
        ["ana@news.example", "ben@news.example"],
        ["pid-ana", "pid-ben"],
    )
    assert ana.id is not None
    assert ben.id is not None
    sent = [
        complaint(wire_format, ATTACKER, ana.id, "pid-attacker"),  # names ana by our id
        complaint(wire_format, ATTACKER, None, "pid-ana"),  # names ana by the provider's id
        complaint(wire_format, "", ana.id, "pid-ana"),  # names ana, and no recipient at all
        complaint(wire_format, "Ben@NEWS.example", ben.id, "pid-ben"),  # ben, written otherwise
    ]
    for value in sent:
        answer = post_authenticated(live, keys, wire_format, value)
        assert answer.status_code in (200, 400, 406), answer.text
    assert statuses(engine, [ana, ben]) == [MessageStatus.SENT, MessageStatus.COMPLAINED]
    assert set(suppressions(engine)) == {ben.email}
    refused = list_refused(engine, send_id=ana.send_id)
    assert {(e.recipient, e.claimed_message_id) for e in refused} >= {(ATTACKER, ana.id)}
    reasons = sorted(e.reason for e in refused if e.recipient == ATTACKER)
    assert reasons == [
        f"names message {ana.id} by its distro id; its recipient is another",
        f"names message {ana.id} by its provider id; its recipient is another",
    ]
    # A body without a recipient is refused as unreadable, or read as no event at all (SES
    # lists no complained recipient then): either way nothing about ana is believed.
    assert {e.recipient for e in refused} == {ATTACKER}
    assert build_report(engine, ana.send_id).refused_events == len(refused)


# --- what counts as the same address, and who needs no recipient ----------------------------


def complained(
    recipient: str, message_id: int | None, provider_id: str | None = None
) -> NormalisedEvent:
    return NormalisedEvent(
        type=EventType.COMPLAINED,
        provider_event_id=f"c-{recipient}-{message_id}-{provider_id}",
        occurred_at=utcnow(),
        recipient=recipient,
        provider_message_id=provider_id,
        message_id=message_id,
    )


def test_the_same_address_written_otherwise_is_the_same_recipient(
    any_engine: Engine, live_distro_factory: Callable[..., LiveDistro]
) -> None:
    live = live_distro_factory(any_engine)
    jo, li, max_ = handed_over(
        any_engine,
        live.settings,
        "sandbox",
        ["jo@bücher.example", "li@news.example", "max@news.example"],
    )
    events = [
        complained("Jo <jo@XN--BCHER-KVA.example>", jo.id),  # display name, IDNA, case
        complained(" LI@News.Example ", li.id),
        complained("max@news.example.attacker.example", max_.id),  # not the same
    ]
    assert store_events(any_engine, "sandbox", events) == 3
    assert statuses(any_engine, [jo, li, max_]) == [
        MessageStatus.COMPLAINED,
        MessageStatus.COMPLAINED,
        MessageStatus.SENT,
    ]
    assert set(suppressions(any_engine)) == {jo.email, li.email}


def test_an_event_without_a_recipient_is_believed_only_from_our_own_signed_links(
    engine: Engine, live_distro_factory: Callable[..., LiveDistro]
) -> None:
    live = live_distro_factory(engine)
    ana, ben = handed_over(engine, live.settings, "sandbox", ["ana@x.example", "ben@x.example"])
    provider_says = complained("", ana.id)
    link_says = NormalisedEvent(
        type=EventType.OPENED,
        provider_event_id="opened-by-pixel",
        occurred_at=utcnow(),
        message_id=ben.id,
        signed_link=True,
    )
    assert store_events(engine, "sandbox", [provider_says, link_says]) == 2
    assert statuses(engine, [ana, ben]) == [MessageStatus.SENT, MessageStatus.OPENED]
    assert suppressions(engine) == {}
    (refused,) = list_refused(engine)
    assert refused.reason == f"names message {ana.id} by its distro id and no recipient"


def test_a_provider_id_shared_by_a_batch_finds_the_message_of_the_recipient(
    engine: Engine, live_distro_factory: Callable[..., LiveDistro]
) -> None:
    """Mailgun and SendGrid give every message of one API call the same id."""
    live = live_distro_factory(engine)
    ana, ben = handed_over(
        engine, live.settings, "sandbox", ["ana@x.example", "ben@x.example"], ["batch-1"] * 2
    )
    events = [complained("ben@x.example", None, "batch-1"), complained(ATTACKER, None, "batch-1")]
    assert store_events(engine, "sandbox", events) == 2
    assert statuses(engine, [ana, ben]) == [MessageStatus.SENT, MessageStatus.COMPLAINED]
    assert set(suppressions(engine)) == {ben.email}
    (refused,) = list_refused(engine)
    assert (refused.recipient, refused.claimed_message_id, refused.send_id) == (
        ATTACKER,
        ana.id,
        ana.send_id,
    )
    assert refused.reason == (
        f"names 2 messages (first {ana.id}) by their provider id; its recipient is none of theirs"
    )
