"""Staff control of a send: pause, resume, cancel, retry-failed and resolve, on SQLite and
PostgreSQL; first the domain transitions and their refusals, then the commands as a user runs
them (tests/cli_support.py's ``run``)."""

from __future__ import annotations

import itertools
import json
import subprocess
import threading
from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, update
from sqlmodel import Session

from distro.config import Settings
from distro.db import make_engine, upgrade
from distro.errors import DistroError, EmbargoError, NotFoundError, ValidationError
from distro.models import Message, MessageStatus, ReleaseStatus, Send, SendStatus
from distro.models.types import utcnow
from distro.providers.base import SendResult
from distro.reports import build_report
from distro.sending import control, queue
from distro.sending.expand import FireOutcome, fire_send
from distro.sending.scheduling import Audience, schedule_send
from tests.cli_support import run
from tests.conftest import make_settings
from tests.factories import add_contacts, add_release, messages_of, suppress

AUDIENCES = itertools.count(1)
LEASE = timedelta(seconds=60)
OWNER = "worker-1"
RELEASES = queue.RELEASES


# --- building sends in each state --------------------------------------------------------------


def settings_of(engine: Engine) -> Settings:
    return make_settings(
        engine.url.render_as_string(hide_password=False), scheduler={"max_lateness": "10m"}
    )


def scheduled_send(
    engine: Engine, recipients: int, now: datetime, at: datetime | None, domain: str = ""
) -> int:
    """A scheduled send of a new release to ``recipients`` new contacts on a list of their own
    (addresses reporterN@DOMAIN, a fresh domain unless given); returns its id."""
    domain = domain or f"news{next(AUDIENCES)}.example"
    add_contacts(engine, recipients, list_name=domain, domain=domain)
    release = add_release(engine)
    assert release.id is not None
    send = schedule_send(
        engine,
        settings_of(engine),
        release_id=release.id,
        audience=Audience(lists=[domain]),
        at=at,
        now=now,
    )
    assert send.id is not None
    return send.id


def started_send(engine: Engine, recipients: int, now: datetime) -> int:
    """A send fired at ``now`` and expanded into queued messages."""
    send_id = scheduled_send(engine, recipients, now, None)
    assert fire_send(engine, settings_of(engine), send_id, now) == FireOutcome.STARTED
    return send_id


def missed_send(engine: Engine, recipients: int, now: datetime, domain: str = "") -> int:
    """A send nothing fired until 11 minutes after its moment (max_lateness is 10)."""
    send_id = scheduled_send(engine, recipients, now, None, domain)
    late = now + timedelta(minutes=11)
    assert fire_send(engine, settings_of(engine), send_id, late) == FireOutcome.MISSED
    return send_id


def embargo_release_of(engine: Engine, send_id: int, embargo_at: datetime | None) -> None:
    """Move the send's release embargo, as staff editing the release do."""
    with engine.begin() as conn:
        release_id = conn.scalar(
            select(queue.SENDS.c.release_id).where(queue.SENDS.c.id == send_id)
        )
        conn.execute(
            update(RELEASES).where(RELEASES.c.id == release_id).values(embargo_at=embargo_at)
        )


def hand_over(engine: Engine, count: int, now: datetime) -> tuple[int, ...]:
    """Claim and hand over up to ``count`` queued messages, as a worker does."""
    claim = queue.claim_batch(engine, OWNER, count, LEASE, now)
    assert claim is not None
    handed = queue.begin_handover(engine, OWNER, claim.message_ids, LEASE, now)
    assert sorted(handed) == sorted(claim.message_ids)
    return claim.message_ids


def record(engine: Engine, ids: tuple[int, ...], now: datetime, error: str | None = None) -> None:
    results = [
        SendResult(i, error is None, provider_message_id=None if error else f"pm-{i}", error=error)
        for i in ids
    ]
    queue.record_results(engine, OWNER, results, now, max_attempts=3)


def send_row(engine: Engine, send_id: int) -> Send:
    with Session(engine) as session:
        send = session.get(Send, send_id)
        assert send is not None
        return send


def by_status(engine: Engine, send_id: int) -> dict[str, list[Message]]:
    grouped: dict[str, list[Message]] = {}
    for message in messages_of(engine, send_id):
        grouped.setdefault(message.status, []).append(message)
    return grouped


def drain(engine: Engine, now: datetime) -> list[int]:
    """Every message id claimable now, claimed by several owners until nothing is left."""
    claimed: list[int] = []
    for turn in range(100):
        claim = queue.claim_batch(engine, f"drain-{turn}", 3, LEASE, now)
        if claim is None:
            return claimed
        claimed.extend(claim.message_ids)
    raise AssertionError("claims never ran dry")


# --- pause and resume --------------------------------------------------------------------------


def test_paused_send_is_not_claimed_and_resume_sends_each_remaining_once(
    any_engine: Engine,
) -> None:
    engine, now = any_engine, utcnow()
    send_id = started_send(engine, 10, now)
    sent = hand_over(engine, 3, now)
    record(engine, sent, now)
    stale = queue.claim_batch(engine, "died-before-hand-over", 2, LEASE, now)
    assert stale is not None

    paused = control.pause(engine, send_id, now)
    assert (paused.was, paused.status) == (SendStatus.SENDING, SendStatus.PAUSED)
    assert paused.counts == {"queued": 7, "sending": 0}
    assert queue.claim_batch(engine, OWNER, 100, LEASE, now) is None
    assert not queue.has_pending_work(engine, now)
    assert "paused by staff" in send_row(engine, send_id).note

    resumed = control.resume(engine, settings_of(engine), send_id, now)
    assert resumed.status == SendStatus.SENDING
    assert resumed.counts["leases_cleared"] == 2  # claimable at once, not after the lease
    claimed = drain(engine, now)
    assert len(claimed) == len(set(claimed)) == 7
    queued = {m.id for m in by_status(engine, send_id)[MessageStatus.QUEUED]}
    assert set(claimed) == queued
    assert not set(claimed) & set(sent)


def test_pausing_a_scheduled_send_stops_its_firing_and_resume_waits_for_the_moment(
    any_engine: Engine,
) -> None:
    engine, now = any_engine, utcnow()
    moment = now + timedelta(hours=1)
    send_id = scheduled_send(engine, 3, now, moment)
    assert control.pause(engine, send_id, now).status == SendStatus.PAUSED
    settings = settings_of(engine)
    assert fire_send(engine, settings, send_id, moment) == FireOutcome.NOT_DUE
    resumed = control.resume(engine, settings, send_id, now)
    assert (resumed.was, resumed.status) == (SendStatus.PAUSED, SendStatus.SCHEDULED)
    assert messages_of(engine, send_id) == []
    assert fire_send(engine, settings, send_id, moment) == FireOutcome.STARTED
    assert len(messages_of(engine, send_id)) == 3


def test_a_paused_send_whose_moment_passed_fires_on_resume_however_late(
    any_engine: Engine,
) -> None:
    engine, now = any_engine, utcnow()
    send_id = scheduled_send(engine, 4, now, now + timedelta(minutes=1))
    control.pause(engine, send_id, now)
    hours_later = now + timedelta(hours=3)
    resumed = control.resume(engine, settings_of(engine), send_id, hours_later)
    assert resumed.status == SendStatus.SENDING
    assert resumed.counts["recipients"] == 4
    assert send_row(engine, send_id).started_at == hours_later


def test_missed_send_resumes_by_firing_now_and_expanding(any_engine: Engine) -> None:
    engine, now = any_engine, utcnow()
    send_id = missed_send(engine, 5, now, domain="missed.example")
    suppress(engine, "reporter1@missed.example")
    assert messages_of(engine, send_id) == []
    later = now + timedelta(hours=2)
    resumed = control.resume(engine, settings_of(engine), send_id, later)
    assert (resumed.was, resumed.status) == (SendStatus.MISSED, SendStatus.SENDING)
    assert resumed.counts == {"queued": 4, "suppressed": 1, "recipients": 5}
    assert len(messages_of(engine, send_id)) == 5
    assert "fired by staff" in send_row(engine, send_id).note
    assert len(drain(engine, later)) == 4


def test_missed_send_under_a_closed_embargo_is_held_not_sent(any_engine: Engine) -> None:
    engine, now = any_engine, utcnow()
    send_id = missed_send(engine, 3, now)
    lift = now + timedelta(hours=1)
    embargo_release_of(engine, send_id, lift)
    with pytest.raises(EmbargoError, match=r"embargo lifts at .* resume it after the lift"):
        control.resume(engine, settings_of(engine), send_id, now)
    held = send_row(engine, send_id)
    assert held.status == SendStatus.HELD
    assert "embargo" in held.note
    assert messages_of(engine, send_id) == []
    # Still under embargo: still held; after the lift it goes.
    with pytest.raises(EmbargoError):
        control.resume(engine, settings_of(engine), send_id, lift - timedelta(seconds=1))
    after = control.resume(engine, settings_of(engine), send_id, lift + timedelta(minutes=1))
    assert after.status == SendStatus.SENDING
    assert len(messages_of(engine, send_id)) == 3


def test_send_held_mid_way_by_a_moved_embargo_continues_after_the_lift(
    any_engine: Engine,
) -> None:
    engine, now = any_engine, utcnow()
    send_id = started_send(engine, 4, now)
    record(engine, hand_over(engine, 1, now), now)
    lift = now + timedelta(hours=1)
    embargo_release_of(engine, send_id, lift)
    claim = queue.claim_batch(engine, OWNER, 10, LEASE, now)
    assert claim is not None
    assert queue.begin_handover(engine, OWNER, claim.message_ids, LEASE, now, send_id=send_id) == []
    assert send_row(engine, send_id).status == SendStatus.HELD
    with pytest.raises(EmbargoError):
        control.resume(engine, settings_of(engine), send_id, now)
    later = lift + timedelta(seconds=1)
    resumed = control.resume(engine, settings_of(engine), send_id, later)
    assert resumed.status == SendStatus.SENDING
    assert resumed.counts["queued"] == 3
    assert sorted(drain(engine, later)) == sorted(claim.message_ids)


def test_resume_of_a_send_whose_release_was_withdrawn_is_refused(engine: Engine) -> None:
    now = utcnow()
    send_id = started_send(engine, 2, now)
    control.pause(engine, send_id, now)
    with engine.begin() as conn:
        conn.execute(update(RELEASES).values(status=ReleaseStatus.WITHDRAWN))
    with pytest.raises(ValidationError, match="withdrawn"):
        control.resume(engine, settings_of(engine), send_id, now)
    assert send_row(engine, send_id).status == SendStatus.PAUSED


def test_concurrent_resumes_fire_a_missed_send_once(any_engine: Engine) -> None:
    engine, now = any_engine, utcnow()
    send_id = missed_send(engine, 6, now)
    settings = settings_of(engine)
    outcomes: list[str] = []

    def resume() -> None:
        try:
            outcomes.append(control.resume(engine, settings, send_id, now).status)
        except ValidationError:
            outcomes.append("refused")

    threads = [threading.Thread(target=resume) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused"] * 3 + [SendStatus.SENDING]
    assert len(messages_of(engine, send_id)) == 6


# --- cancel ------------------------------------------------------------------------------------


def test_cancel_keeps_what_was_sent_and_marks_the_queued_not_sent(any_engine: Engine) -> None:
    engine, now = any_engine, utcnow()
    send_id = started_send(engine, 7, now)
    sent = hand_over(engine, 2, now)
    record(engine, sent, now)
    in_flight = hand_over(engine, 1, now)
    (lost,) = hand_over(engine, 1, now)
    with engine.begin() as conn:  # its answer was lost: it waits to go again under its key
        conn.execute(
            update(queue.MESSAGES)
            .where(queue.MESSAGES.c.id == lost)
            .values(status=MessageStatus.QUEUED, handover_key="batch-key-1", lease_owner=None)
        )

    cancelled = control.cancel(engine, send_id, now)
    assert (cancelled.was, cancelled.status) == (SendStatus.SENDING, SendStatus.CANCELLED)
    assert cancelled.counts == {"sending": 1, "not_sent": 3, "uncertain": 1, "kept": 4}
    groups = by_status(engine, send_id)
    assert {m.id for m in groups[MessageStatus.SENT]} == set(sent)
    assert all(m.provider_message_id == f"pm-{m.id}" for m in groups[MessageStatus.SENT])
    assert [m.id for m in groups[MessageStatus.SENDING]] == list(in_flight)
    assert [m.id for m in groups[MessageStatus.UNCERTAIN]] == [lost]
    assert {m.last_error for m in groups[MessageStatus.FAILED]} == {control.CANCELLED_ERROR}
    assert len(groups[MessageStatus.FAILED]) == 3
    assert queue.claim_batch(engine, OWNER, 100, LEASE, now) is None
    # The in-flight batch finishes normally and is recorded.
    record(engine, in_flight, now)
    report = build_report(engine, send_id)
    assert (report.status, report.recipients, report.sent) == ("cancelled", 7, 3)
    assert (report.failed, report.uncertain, report.pending) == (3, 1, 0)
    assert "cancelled by staff" in report.note


def test_cancel_of_a_scheduled_send_means_it_never_fires(any_engine: Engine) -> None:
    engine, now = any_engine, utcnow()
    moment = now + timedelta(minutes=5)
    send_id = scheduled_send(engine, 2, now, moment)
    assert control.cancel(engine, send_id, now).counts["not_sent"] == 0
    assert fire_send(engine, settings_of(engine), send_id, moment) == FireOutcome.NOT_DUE
    assert messages_of(engine, send_id) == []


# --- refusals ----------------------------------------------------------------------------------


Action = Callable[[Engine, int, datetime], control.ControlResult]


def _resume(engine: Engine, send_id: int, now: datetime) -> control.ControlResult:
    return control.resume(engine, settings_of(engine), send_id, now)


def _resend(engine: Engine, send_id: int, now: datetime) -> control.ControlResult:
    return control.resolve(engine, send_id, now, resend=True)


ACTIONS: dict[str, Action] = {
    "pause": control.pause,
    "resume": _resume,
    "cancel": control.cancel,
    "retry-failed": control.retry_failed,
    "resolve": _resend,
}


@pytest.mark.parametrize("action", ACTIONS)
def test_an_unknown_send_is_not_found(engine: Engine, action: str) -> None:
    with pytest.raises(NotFoundError, match="no send 404"):
        ACTIONS[action](engine, 404, utcnow())


def to_state(engine: Engine, status: SendStatus, now: datetime) -> int:
    """A send in ``status`` (messages, if any, all sent)."""
    if status == SendStatus.SCHEDULED:
        return scheduled_send(engine, 1, now, now + timedelta(hours=1))
    if status == SendStatus.MISSED:
        return missed_send(engine, 1, now)
    send_id = started_send(engine, 1, now)
    record(engine, hand_over(engine, 1, now), now)
    if status == SendStatus.SENT:
        assert queue.finish_send_if_done(engine, send_id, now)
    elif status == SendStatus.PAUSED:
        control.pause(engine, send_id, now)
    elif status == SendStatus.CANCELLED:
        control.cancel(engine, send_id, now)
    return send_id


REFUSED = [
    ("pause", SendStatus.PAUSED),
    ("pause", SendStatus.MISSED),
    ("pause", SendStatus.SENT),
    ("pause", SendStatus.CANCELLED),
    ("resume", SendStatus.SCHEDULED),
    ("resume", SendStatus.SENDING),
    ("resume", SendStatus.SENT),
    ("resume", SendStatus.CANCELLED),
    ("cancel", SendStatus.SENT),
    ("cancel", SendStatus.CANCELLED),
    ("retry-failed", SendStatus.CANCELLED),
    ("resolve", SendStatus.CANCELLED),
]


@pytest.mark.parametrize(("action", "status"), REFUSED)
def test_invalid_transitions_are_refused_and_change_nothing(
    engine: Engine, action: str, status: SendStatus
) -> None:
    now = utcnow()
    send_id = to_state(engine, status, now)
    before = send_row(engine, send_id)
    assert before.status == status
    with pytest.raises(ValidationError, match=f"send {send_id} is {status}"):
        ACTIONS[action](engine, send_id, now)
    after = send_row(engine, send_id)
    assert (after.status, after.note) == (before.status, before.note)


# --- retry-failed ------------------------------------------------------------------------------


def test_retry_failed_requeues_only_failed_and_skips_suppressed(any_engine: Engine) -> None:
    engine, now = any_engine, utcnow()
    send_id = started_send(engine, 5, now)
    ok = hand_over(engine, 1, now)
    record(engine, ok, now)
    refused = hand_over(engine, 2, now)
    record(engine, refused, now, error="inactive recipient")
    unknown = hand_over(engine, 1, now)
    queue.mark_uncertain(engine, OWNER, unknown, "timeout")
    dropped = hand_over(engine, 1, now)
    queue.mark_uncertain(engine, OWNER, dropped, "reset")
    control.resolve(engine, send_id, now, resend=False, message_id=dropped[0])
    assert send_row(engine, send_id).status == SendStatus.SENT
    suppressed_id, retried_id = refused
    by_id = {m.id: m for m in messages_of(engine, send_id)}
    suppress(engine, by_id[suppressed_id].email, "hard_bounce")

    later = now + timedelta(minutes=1)
    result = control.retry_failed(engine, send_id, later)
    assert result.counts == {"requeued": 1, "skipped_suppressed": 1, "skipped_dropped": 1}
    assert result.previous_errors == {"inactive recipient": 1}
    assert (result.was, result.status) == (SendStatus.SENT, SendStatus.SENDING)
    after = {m.id: m for m in messages_of(engine, send_id)}
    retried = after[retried_id]
    assert (retried.status, retried.attempts, retried.last_error) == ("queued", 0, None)
    assert retried.next_attempt_at is None
    assert after[suppressed_id].status == MessageStatus.FAILED
    assert after[ok[0]].status == MessageStatus.SENT
    assert after[unknown[0]].status == MessageStatus.UNCERTAIN
    assert after[dropped[0]].status == MessageStatus.FAILED
    assert send_row(engine, send_id).finished_at is None
    assert drain(engine, later) == [retried_id]


def test_retry_failed_with_nothing_failed_changes_nothing(any_engine: Engine) -> None:
    engine, now = any_engine, utcnow()
    send_id = to_state(engine, SendStatus.SENT, now)
    result = control.retry_failed(engine, send_id, now)
    assert result.counts["requeued"] == 0
    assert (result.status, result.note) == (SendStatus.SENT, "")


# --- resolve -----------------------------------------------------------------------------------


def uncertain_send(engine: Engine, now: datetime, uncertain: int) -> tuple[int, tuple[int, ...]]:
    """A finished send: one message sent, ``uncertain`` whose hand-over outcome is unknown."""
    send_id = started_send(engine, uncertain + 1, now)
    record(engine, hand_over(engine, 1, now), now)
    unknown = hand_over(engine, uncertain, now)
    queue.mark_uncertain(engine, OWNER, unknown, "timeout")
    assert queue.finish_send_if_done(engine, send_id, now)
    return send_id, unknown


def test_resolve_resend_queues_uncertain_again_and_reopens_the_send(any_engine: Engine) -> None:
    engine, now = any_engine, utcnow()
    send_id, unknown = uncertain_send(engine, now, 2)
    result = control.resolve(engine, send_id, now, resend=True)
    assert result.counts == {"requeued": 2, "awaiting_lookup": 0}
    assert (result.was, result.status) == (SendStatus.SENT, SendStatus.SENDING)
    assert sorted(drain(engine, now)) == sorted(unknown)
    assert build_report(engine, send_id).uncertain == 0


def test_resolve_drop_closes_uncertain_as_not_sent(any_engine: Engine) -> None:
    engine, now = any_engine, utcnow()
    send_id, unknown = uncertain_send(engine, now, 2)
    result = control.resolve(engine, send_id, now, resend=False)
    assert result.counts == {"dropped": 2, "awaiting_lookup": 0}
    assert result.status == SendStatus.SENT
    dropped = by_status(engine, send_id)[MessageStatus.FAILED]
    assert {m.id for m in dropped} == set(unknown)
    assert {m.last_error for m in dropped} == {
        f"{control.DROPPED_ERROR} (outcome unknown: timeout)"
    }
    report = build_report(engine, send_id)
    assert (report.uncertain, report.failed, report.sent) == (0, 2, 1)
    assert queue.claim_batch(engine, OWNER, 10, LEASE, now) is None


def test_resolve_one_message_by_id_or_address(any_engine: Engine) -> None:
    engine, now = any_engine, utcnow()
    send_id, (first, second) = uncertain_send(engine, now, 2)
    email = {m.id: m.email for m in messages_of(engine, send_id)}[second]
    by_id = control.resolve(engine, send_id, now, resend=False, message_id=first)
    assert by_id.counts == {"dropped": 1, "awaiting_lookup": 0}
    by_address = control.resolve(engine, send_id, now, resend=True, email=f" {email.upper()} ")
    assert by_address.counts == {"requeued": 1, "awaiting_lookup": 0}
    statuses = {m.id: m.status for m in messages_of(engine, send_id)}
    assert (statuses[first], statuses[second]) == (MessageStatus.FAILED, MessageStatus.QUEUED)


def test_resolve_leaves_rows_a_provider_lookup_will_settle_unless_named(
    any_engine: Engine,
) -> None:
    engine, now = any_engine, utcnow()
    send_id, (held, asking) = uncertain_send(engine, now, 2)
    with engine.begin() as conn:  # a provider with a message lookup will be asked about it
        conn.execute(
            update(queue.MESSAGES)
            .where(queue.MESSAGES.c.id == asking)
            .values(next_attempt_at=now + timedelta(minutes=1))
        )
    bulk = control.resolve(engine, send_id, now, resend=False)
    assert bulk.counts == {"dropped": 1, "awaiting_lookup": 1}
    named = control.resolve(engine, send_id, now, resend=False, message_id=asking)
    assert named.counts == {"dropped": 1, "awaiting_lookup": 0}
    dropped = {m.id: m for m in by_status(engine, send_id)[MessageStatus.FAILED]}
    assert set(dropped) == {held, asking}
    assert dropped[asking].next_attempt_at is None  # a later lookup does not undo staff's call


@pytest.mark.parametrize(
    ("target", "error", "words"),
    [
        ({"message_id": 999_999}, NotFoundError, "has no message 999999"),
        ({"email": "nobody@else.example"}, NotFoundError, "no message to nobody@else.example"),
        ({"message_id": -1, "email": "x@y.example"}, ValidationError, "not both"),
        ("sent", ValidationError, "is sent, not uncertain"),
    ],
)
def test_resolve_refuses_a_message_it_cannot_resolve(
    engine: Engine, target: Any, error: type[DistroError], words: str
) -> None:
    now = utcnow()
    send_id, unknown = uncertain_send(engine, now, 1)
    if target == "sent":
        sent = by_status(engine, send_id)[MessageStatus.SENT][0].id
        target = {"message_id": sent}
    with pytest.raises(error, match=words):
        control.resolve(engine, send_id, now, resend=True, **target)
    assert by_status(engine, send_id)[MessageStatus.UNCERTAIN][0].id == unknown[0]


# --- the commands ------------------------------------------------------------------------------


def distro(cwd: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    return run(cwd, *args, env={"DISTRO_DATABASE__URL": url, "NO_COLOR": "1", "COLUMNS": "200"})


def ok_json(done: subprocess.CompletedProcess[str]) -> Any:
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def ok_text(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())


def error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout
    assert done.stdout == ""
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.fixture
def cli_engine(database_url: str) -> Iterator[Engine]:
    """A migrated database the commands reach through DISTRO_DATABASE__URL (both kinds)."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


def test_pause_resume_cancel_commands(tmp_path: Path, cli_engine: Engine) -> None:
    engine, url = cli_engine, cli_engine.url.render_as_string(hide_password=False)
    now = utcnow()
    send_id = started_send(engine, 3, now)
    record(engine, hand_over(engine, 1, now), now)

    paused = ok_json(distro(tmp_path, url, "send", "pause", str(send_id), "--json"))
    assert (paused["was"], paused["status"]) == ("sending", "paused")
    assert paused["counts"] == {"queued": 2, "sending": 0}
    listed = ok_json(distro(tmp_path, url, "send", "list", "--json"))
    assert listed[0]["status"] == "paused"
    assert "paused by staff" in listed[0]["note"]
    table = ok_text(distro(tmp_path, url, "send", "list"))
    assert f"send {send_id} (paused): paused by staff at" in table
    assert error_line(distro(tmp_path, url, "send", "pause", str(send_id))) == (
        f"error: send {send_id} is paused: only a scheduled or sending send can be paused"
    )

    resumed = ok_text(distro(tmp_path, url, "send", "resume", str(send_id)))
    assert f"Resumed send {send_id}: paused -> sending; 2 queued" in resumed
    cancelled = ok_text(distro(tmp_path, url, "send", "cancel", str(send_id)))
    assert f"Cancelled send {send_id}: sending -> cancelled" in cancelled
    assert "2 not sent" in cancelled
    refused = error_line(distro(tmp_path, url, "send", "cancel", str(send_id)))
    assert f"send {send_id} is cancelled" in refused
    assert error_line(distro(tmp_path, url, "send", "resume", "999")) == "error: no send 999"
    report = ok_json(distro(tmp_path, url, "report", str(send_id), "--format", "json"))
    assert (report["status"], report["sent"], report["failed"]) == ("cancelled", 1, 2)


def test_resume_command_on_missed_and_embargoed_sends(tmp_path: Path, cli_engine: Engine) -> None:
    engine, url = cli_engine, cli_engine.url.render_as_string(hide_password=False)
    now = utcnow()
    missed = missed_send(engine, 2, now)
    listed = ok_json(distro(tmp_path, url, "send", "list", "--json"))
    assert (listed[0]["status"], "max_lateness" in listed[0]["note"]) == ("missed", True)
    fired = ok_json(distro(tmp_path, url, "send", "resume", str(missed), "--json"))
    assert (fired["was"], fired["status"], fired["counts"]["recipients"]) == (
        "missed",
        "sending",
        2,
    )

    embargoed = missed_send(engine, 1, now)
    embargo_release_of(engine, embargoed, now + timedelta(days=1))
    line = error_line(distro(tmp_path, url, "send", "resume", str(embargoed)))
    assert f"send {embargoed} is held, not resumed" in line
    assert "embargo" in line
    assert send_row(engine, embargoed).status == SendStatus.HELD
    listed = ok_json(distro(tmp_path, url, "send", "list", "--json"))
    assert {s["send_id"]: s["status"] for s in listed}[embargoed] == "held"


def test_retry_failed_and_resolve_commands(tmp_path: Path, cli_engine: Engine) -> None:
    engine, url = cli_engine, cli_engine.url.render_as_string(hide_password=False)
    now = utcnow()
    send_id, unknown = uncertain_send(engine, now, 2)
    with engine.begin() as conn:  # the one message sent is refused after all
        conn.execute(
            update(queue.MESSAGES)
            .where(queue.MESSAGES.c.status == MessageStatus.SENT)
            .values(status=MessageStatus.FAILED, last_error="mailbox full")
        )

    retried = ok_text(distro(tmp_path, url, "send", "retry-failed", str(send_id)))
    assert f"Retried the failed messages of send {send_id}: sent -> sending; 1 requeued" in retried
    assert "1 had failed with: mailbox full" in retried

    for flags in ((), ("--resend", "--drop")):
        line = error_line(distro(tmp_path, url, "send", "resolve", str(send_id), *flags))
        assert "exactly one of --resend or --drop" in line
    dropped = ok_json(
        distro(
            tmp_path,
            url,
            "send",
            "resolve",
            str(send_id),
            "--drop",
            "--message",
            str(unknown[0]),
            "--json",
        )
    )
    assert dropped["counts"] == {"dropped": 1, "awaiting_lookup": 0}
    resent = ok_text(distro(tmp_path, url, "send", "resolve", str(send_id), "--resend"))
    assert f"send {send_id}: still sending; 1 requeued" in resent
    assert "may get the email twice" in resent
    statuses = {m.id: m.status for m in messages_of(engine, send_id)}
    assert (statuses[unknown[0]], statuses[unknown[1]]) == ("failed", "queued")
