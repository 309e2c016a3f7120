"""The suppression list: the service on SQLite and PostgreSQL, the automatic path from tracking
events, its effect on a send, and the ``distro suppress`` commands as a user runs them."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from typing_extensions import Unpack

from distro.audience.suppression import (
    add_suppression,
    import_suppressions,
    list_suppressions,
    remove_suppression,
    suppression_added,
    suppression_log,
)
from distro.errors import NotFoundError, ValidationError
from distro.models import EventType, MessageStatus, Suppression, SuppressionLog
from distro.models.types import utcnow
from distro.reports import build_report
from distro.sending.expand import FireOutcome, fire_send
from distro.sending.scheduling import Audience, schedule_send
from distro.tracking.event import BounceKind, NormalisedEvent, Said
from distro.tracking.events import store_events
from tests.cli_support import run, run_json
from tests.conftest import make_settings
from tests.factories import add_contacts, add_release, messages_of

ALL_REASONS = ("unsubscribed", "hard_bounce", "complaint", "do_not_contact")
PROTECTED = ("complaint", "do_not_contact")
UNPROTECTED = ("unsubscribed", "hard_bounce")


def log_rows(engine: Engine, email: str | None = None) -> list[tuple[str, str, str, bool, str]]:
    with Session(engine) as session:
        return [
            (e.email, e.action, e.reason, e.forced, e.source)
            for e in suppression_log(session, email)
        ]


def suppressions(engine: Engine) -> dict[str, str]:
    with Session(engine) as session:
        return {s.email: s.reason for s in list_suppressions(session)}


def suppressed(engine: Engine, email: str, reason: str, note: str = "") -> None:
    with Session(engine) as session:
        add_suppression(session, email, reason, source="test", note=note)
        session.commit()


# --- service ----------------------------------------------------------------------------------


def test_add_normalises_logs_and_keeps_an_existing_suppression(any_engine: Engine) -> None:
    with Session(any_engine) as session:
        first, created = suppression_added(
            session, "  Ana@Harbor.Example ", "complaint", source="cli", note="angry call"
        )
        assert created
        assert first.email == "ana@harbor.example"
        again, created_again = suppression_added(
            session, "ANA@harbor.example", "unsubscribed", source="import", note="other"
        )
        assert not created_again
        assert again.id == first.id
        session.commit()
    assert suppressions(any_engine) == {"ana@harbor.example": "complaint"}
    assert log_rows(any_engine) == [("ana@harbor.example", "added", "complaint", False, "cli")]
    with Session(any_engine) as session:
        (entry,) = session.exec(select(SuppressionLog)).all()
        (row,) = session.exec(select(Suppression)).all()
    assert entry.note == "angry call"
    assert row.source == "cli"
    assert row.note == "angry call"


@pytest.mark.parametrize(
    ("email", "reason", "message"),
    [
        ("not-an-address", "complaint", "not a valid email address"),
        ("   ", "complaint", "no email address"),
        ("ana@harbor.example", "spam", "hard_bounce, soft_bounce, complaint, do_not_contact"),
    ],
)
def test_add_refuses_bad_input_and_stores_nothing(
    engine: Engine, email: str, reason: str, message: str
) -> None:
    with Session(engine) as session, pytest.raises(ValidationError, match=message):
        add_suppression(session, email, reason, source="cli", note="")
    assert suppressions(engine) == {}
    assert log_rows(engine) == []


def test_reason_spelling_is_forgiven(engine: Engine) -> None:
    suppressed(engine, "a@harbor.example", "Do-Not-Contact")
    suppressed(engine, "b@harbor.example", "HARD-BOUNCE")
    assert suppressions(engine) == {
        "a@harbor.example": "do_not_contact",
        "b@harbor.example": "hard_bounce",
    }


@pytest.mark.parametrize("reason", PROTECTED)
def test_removing_complaint_or_do_not_contact_needs_force_and_is_logged(
    any_engine: Engine, reason: str
) -> None:
    suppressed(any_engine, "ana@harbor.example", reason)
    with Session(any_engine) as session, pytest.raises(ValidationError, match="force"):
        remove_suppression(session, "ana@harbor.example", force=False, note="asked nicely")
    assert suppressions(any_engine) == {"ana@harbor.example": reason}
    assert [row[1] for row in log_rows(any_engine)] == ["added"]

    with Session(any_engine) as session:
        removed = remove_suppression(
            session, " ANA@harbor.example", force=True, note="editor confirmed", source="cli"
        )
        assert removed.reason == reason
        session.commit()
    assert suppressions(any_engine) == {}
    assert log_rows(any_engine) == [
        ("ana@harbor.example", "added", reason, False, "test"),
        ("ana@harbor.example", "removed", reason, True, "cli"),
    ]
    with Session(any_engine) as session:
        assert suppression_log(session)[-1].note == "editor confirmed"


@pytest.mark.parametrize("reason", UNPROTECTED)
def test_unsubscribed_and_hard_bounce_are_removed_without_force_and_logged(
    any_engine: Engine, reason: str
) -> None:
    suppressed(any_engine, "ana@harbor.example", reason)
    with Session(any_engine) as session:
        remove_suppression(session, "ana@harbor.example", force=False, note="resubscribed")
        session.commit()
    assert suppressions(any_engine) == {}
    assert [(r[1], r[2], r[3]) for r in log_rows(any_engine)] == [
        ("added", reason, False),
        ("removed", reason, False),
    ]


def test_removing_an_address_not_suppressed_is_not_found(engine: Engine) -> None:
    with Session(engine) as session, pytest.raises(NotFoundError, match="nobody@"):
        remove_suppression(session, "nobody@harbor.example", force=True, note="")
    assert log_rows(engine) == []


def test_suppress_remove_suppress_again_keeps_the_whole_history(engine: Engine) -> None:
    suppressed(engine, "ana@harbor.example", "unsubscribed")
    with Session(engine) as session:
        remove_suppression(session, "ana@harbor.example", force=False, note="")
        session.commit()
    suppressed(engine, "ana@harbor.example", "hard_bounce")
    suppressed(engine, "ben@wire.example", "complaint")
    assert [(r[1], r[2]) for r in log_rows(engine, "ana@harbor.example")] == [
        ("added", "unsubscribed"),
        ("removed", "unsubscribed"),
        ("added", "hard_bounce"),
    ]
    assert len(log_rows(engine)) == 4


def test_list_filters_by_reason(any_engine: Engine) -> None:
    for i, reason in enumerate(ALL_REASONS):
        suppressed(any_engine, f"r{i}@harbor.example", reason)
    suppressed(any_engine, "again@harbor.example", "complaint")
    with Session(any_engine) as session:
        complaints = [s.email for s in list_suppressions(session, "complaint")]
        everyone = list_suppressions(session)
        with pytest.raises(ValidationError, match="unknown suppression reason"):
            list_suppressions(session, "bounced")
    assert complaints == ["again@harbor.example", "r2@harbor.example"]
    assert len(everyone) == 5


# --- import -----------------------------------------------------------------------------------


def test_import_csv_keeps_valid_rows_and_reports_invalid_ones(
    any_engine: Engine, tmp_path: Path
) -> None:
    suppressed(any_engine, "old@harbor.example", "complaint")
    path = tmp_path / "suppress.csv"
    path.write_text(
        "Email Address,Reason,Note\n"
        "ana@harbor.example,unsubscribed,asked by phone\n"  # line 2
        "not-an-address,,\n"  # line 3: invalid address
        "\n"  # line 4: blank, skipped
        " BEN@wire.example ,,\n"  # line 5: the default reason
        "cat@wire.example,bounced,\n"  # line 6: unknown reason
        "OLD@harbor.example,unsubscribed,\n"  # line 7: already suppressed (complaint kept)
        "ana@harbor.example,complaint,\n"  # line 8: repeat of line 2
        ",hard_bounce,\n",  # line 9: no address
        encoding="utf-8",
    )
    report = import_suppressions(any_engine, path, reason="do_not_contact", source="import test")
    assert report.added == 2
    assert [(r["line"], r["email"]) for r in report.invalid] == [
        (3, "not-an-address"),
        (6, "cat@wire.example"),
        (9, ""),
    ]
    assert "unknown suppression reason" in report.invalid[1]["reason"]
    assert all(r["reason"] for r in report.invalid)
    assert report.existing == [{"line": 7, "email": "old@harbor.example", "reason": "complaint"}]
    assert report.duplicates == [{"email": "ana@harbor.example", "lines": [2, 8]}]
    assert suppressions(any_engine) == {
        "ana@harbor.example": "unsubscribed",
        "ben@wire.example": "do_not_contact",
        "old@harbor.example": "complaint",
    }
    added = [r for r in log_rows(any_engine) if r[4] == "import test"]
    assert sorted((r[0], r[1], r[2]) for r in added) == [
        ("ana@harbor.example", "added", "unsubscribed"),
        ("ben@wire.example", "added", "do_not_contact"),
    ]
    with Session(any_engine) as session:
        (ana,) = list_suppressions(session, "unsubscribed")
    assert ana.note == "asked by phone"


def test_import_plain_list_one_address_per_line(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "bounces.txt"
    path.write_text(
        "# exported from the old tool\ngone@harbor.example\n\nnope\nAlso.Gone@wire.example\n",
        encoding="utf-8",
    )
    report = import_suppressions(engine, path, reason="hard_bounce", source="old tool")
    assert report.added == 2
    assert [(r["line"], r["email"]) for r in report.invalid] == [(4, "nope")]
    assert suppressions(engine) == {
        "gone@harbor.example": "hard_bounce",
        "also.gone@wire.example": "hard_bounce",
    }


def test_import_csv_without_an_email_column_is_refused(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text("name,outlet\nAna,Harbor\n", encoding="utf-8")
    with pytest.raises(ValidationError, match="no email column"):
        import_suppressions(engine, path, reason="complaint", source="x")
    assert suppressions(engine) == {}


# --- the effect on a send ---------------------------------------------------------------------


def test_suppressed_contacts_are_left_out_of_a_send_and_recorded_on_it(
    any_engine: Engine,
) -> None:
    contacts = add_contacts(any_engine, 4)
    emails = [c.email for c in contacts]
    suppressed(any_engine, emails[1].upper(), "complaint")  # stored lower-cased: still matches
    suppressed(any_engine, emails[2], "unsubscribed")
    with Session(any_engine) as session:  # let back in: mailed again
        remove_suppression(session, emails[2], force=False, note="resubscribed")
        session.commit()
    release = add_release(any_engine)
    assert release.id is not None
    settings = make_settings(any_engine.url.render_as_string(hide_password=False))
    now = utcnow()
    send = schedule_send(
        any_engine, settings, release_id=release.id, audience=Audience(lists=["press"]), now=now
    )
    assert send.id is not None
    assert fire_send(any_engine, settings, send.id, now) == FireOutcome.STARTED

    statuses = {m.email: m.status for m in messages_of(any_engine, send.id)}
    assert statuses == {
        emails[0]: MessageStatus.QUEUED,
        emails[1]: MessageStatus.SUPPRESSED,
        emails[2]: MessageStatus.QUEUED,
        emails[3]: MessageStatus.QUEUED,
    }
    report = build_report(any_engine, send.id)
    assert report.suppressed == 1
    assert report.recipients == 4


# --- the automatic path: tracking events ------------------------------------------------------


def event(
    provider_event_id: str, type_: EventType, recipient: str, **said: Unpack[Said]
) -> NormalisedEvent:
    return NormalisedEvent(
        type=type_,
        provider_event_id=provider_event_id,
        occurred_at=utcnow(),
        recipient=recipient,
        **said,
    )


def test_a_hard_bounce_event_suppresses_and_logs_once(any_engine: Engine) -> None:
    bounce = event(
        "b-1",
        EventType.BOUNCED,
        "Gone@Harbor.example",
        bounce_kind=BounceKind.HARD,
        description="no user",
    )
    assert store_events(any_engine, "postmark", [bounce]) == 1
    assert store_events(any_engine, "postmark", [bounce]) == 0  # a webhook retry
    complaint = event("c-1", EventType.COMPLAINED, "gone@harbor.example")
    soft = event("s-1", EventType.BOUNCED, "soft@harbor.example", bounce_kind=BounceKind.SOFT)
    assert store_events(any_engine, "postmark", [complaint, soft]) == 2

    assert suppressions(any_engine) == {"gone@harbor.example": "hard_bounce"}  # first one kept
    with Session(any_engine) as session:
        (entry,) = suppression_log(session)
        (row,) = list_suppressions(session)
    assert (entry.email, entry.action, entry.reason, entry.forced) == (
        "gone@harbor.example",
        "added",
        "hard_bounce",
        False,
    )
    assert entry.source == "postmark bounced event"
    assert row.event_id is not None
    assert f"event {row.event_id}" in entry.note
    assert "b-1" in entry.note
    assert "no user" in entry.note


def test_an_address_removed_by_hand_is_suppressed_again_by_a_new_complaint(
    engine: Engine,
) -> None:
    suppressed(engine, "ana@harbor.example", "unsubscribed")
    with Session(engine) as session:
        remove_suppression(session, "ana@harbor.example", force=False, note="")
        session.commit()
    assert store_events(
        engine, "sandbox", [event("c-9", EventType.COMPLAINED, "ana@harbor.example")]
    )
    assert suppressions(engine) == {"ana@harbor.example": "complaint"}
    assert [(r[1], r[2], r[4]) for r in log_rows(engine)] == [
        ("added", "unsubscribed", "test"),
        ("removed", "unsubscribed", ""),
        ("added", "complaint", "sandbox complained event"),
    ]


# --- the CLI ----------------------------------------------------------------------------------


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    done = run(tmp_path, "init")
    assert done.returncode == 0, done.stderr
    return tmp_path


@pytest.fixture(scope="module")
def shared_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised workspace for tests that change nothing."""
    folder = tmp_path_factory.mktemp("suppress")
    assert run(folder, "init").returncode == 0
    return folder


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, f"{done.args} exited {done.returncode}:\n{done.stdout}"
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


@pytest.mark.parametrize("reason", PROTECTED)
def test_cli_remove_of_a_protected_suppression_needs_force_and_the_log_shows_it(
    workspace: Path, reason: str
) -> None:
    added = run_json(
        workspace, "suppress", "add", "Ana@Harbor.example", "--reason", reason, "--json"
    )
    assert (added["email"], added["reason"], added["added"]) == ("ana@harbor.example", reason, True)

    refused = one_line_error(run(workspace, "suppress", "remove", "ana@harbor.example"))
    assert "--force" in refused
    assert [s["email"] for s in run_json(workspace, "suppress", "list", "--json")] == [
        "ana@harbor.example"
    ]

    removed = run_json(
        workspace,
        "suppress",
        "remove",
        "ana@harbor.example",
        "--force",
        "--note",
        "editor said yes",
        "--json",
    )
    assert removed["removed"] is True
    assert run_json(workspace, "suppress", "list", "--json") == []
    log = run_json(workspace, "suppress", "log", "ana@harbor.example", "--json")
    assert [(e["action"], e["reason"], e["forced"], e["source"]) for e in log] == [
        ("added", reason, False, "cli"),
        ("removed", reason, True, "cli"),
    ]
    assert log[1]["note"] == "editor said yes"


@pytest.mark.parametrize("reason", UNPROTECTED)
def test_cli_remove_of_unsubscribed_or_hard_bounce_needs_no_force(
    workspace: Path, reason: str
) -> None:
    run_json(workspace, "suppress", "add", "ana@harbor.example", "--reason", reason, "--json")
    run_json(workspace, "suppress", "add", "ben@wire.example", "--reason", "complaint", "--json")
    done = run(workspace, "suppress", "remove", "ana@harbor.example", "--note", "back")
    assert done.returncode == 0, done.stderr
    assert "Removed ana@harbor.example" in done.stdout
    log = run_json(workspace, "suppress", "log", "--json")
    assert [(e["email"], e["action"], e["forced"]) for e in log] == [
        ("ana@harbor.example", "added", False),
        ("ben@wire.example", "added", False),
        ("ana@harbor.example", "removed", False),
    ]
    assert [s["email"] for s in run_json(workspace, "suppress", "list", "--json")] == [
        "ben@wire.example"
    ]


def test_cli_add_twice_reports_the_existing_suppression(workspace: Path) -> None:
    run_json(workspace, "suppress", "add", "ana@harbor.example", "--reason", "complaint", "--json")
    again = run(workspace, "suppress", "add", "ana@harbor.example", "--reason", "unsubscribed")
    assert again.returncode == 0, again.stderr
    assert "already suppressed (complaint" in again.stdout
    as_json = run_json(workspace, "suppress", "add", "ANA@harbor.example", "--json")
    assert (as_json["added"], as_json["reason"]) == (False, "complaint")
    assert len(run_json(workspace, "suppress", "log", "--json")) == 1


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("add", "x@harbor.example", "--reason", "bounced"), ALL_REASONS),
        (("list", "--reason", "spam"), ALL_REASONS),
        (("import", "x.csv", "--reason", "nope"), ALL_REASONS),
        (("add", "not-an-address"), ("not a valid email address",)),
        (("remove", "nobody@harbor.example"), ("not on the suppression list",)),
        (("import", "missing.csv"), ("missing.csv", "cannot be read")),
    ],
    ids=["add-reason", "list-reason", "import-reason", "bad-address", "not-suppressed", "no-file"],
)
def test_cli_bad_input_is_one_line(
    shared_workspace: Path, args: tuple[str, ...], expected: tuple[str, ...]
) -> None:
    line = one_line_error(run(shared_workspace, "suppress", *args))
    for text in expected:
        assert text in line
    assert run_json(shared_workspace, "suppress", "log", "--json") == []


def test_cli_import_with_invalid_rows_and_list_by_reason(workspace: Path) -> None:
    (workspace / "unsubs.csv").write_text(
        "email,reason\n"
        "ana@harbor.example,\n"  # line 2
        "bad@@example,\n"  # line 3
        "ben@wire.example,complaint\n"  # line 4
        "cat@wire.example,weird\n",  # line 5
        encoding="utf-8",
    )
    report = run_json(
        workspace, "suppress", "import", "unsubs.csv", "--reason", "unsubscribed", "--json"
    )
    assert report["added"] == 2
    assert [(r["line"], r["email"]) for r in report["invalid"]] == [
        (3, "bad@@example"),
        (5, "cat@wire.example"),
    ]
    listed = run_json(workspace, "suppress", "list", "--reason", "unsubscribed", "--json")
    assert [(s["email"], s["source"]) for s in listed] == [
        ("ana@harbor.example", "import unsubs.csv")
    ]
    table = run(workspace, "suppress", "import", "unsubs.csv")
    assert table.returncode == 0, table.stderr
    assert "Suppressed 0; 2 already suppressed" in table.stdout
    assert "line 3: 'bad@@example'" in table.stdout
    log = run_json(workspace, "suppress", "log", "--json")
    assert sorted((e["email"], e["reason"]) for e in log) == [
        ("ana@harbor.example", "unsubscribed"),
        ("ben@wire.example", "complaint"),
    ]
