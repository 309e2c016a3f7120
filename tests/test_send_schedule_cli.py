"""`distro send schedule`, `send list`, `send cancel`, `release reopen` and `distro sends` as a
user runs them (the installed script in a subprocess): what scheduling says about the audience
and the moment, the expected audience before a send fires, each send's kind, and a release that
goes back to approved and then to draft with every refusal naming the way out."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlmodel import Session

from distro.db import make_engine, upgrade
from distro.models import ContactTag
from tests.cli_support import run, run_json
from tests.factories import add_contacts, add_release
from tests.test_cli import run_distro
from tests.test_release_cli import one_line_error

LIFT = datetime(2030, 12, 5, 8, 0, tzinfo=UTC)  # 09:00 in Madrid


def ok(cwd: Path, *args: str) -> str:
    done = run(cwd, *args)
    assert done.returncode == 0, done.stderr
    return " ".join(done.stdout.split())


def newsroom(folder: Path) -> int:
    """distro.db in ``folder``: two embargo-trusted journalists on "trusted" and "press", two
    more on "press", and an approved release under embargo; returns the release's id."""
    engine = make_engine(f"sqlite:///{folder / 'distro.db'}")
    try:
        upgrade(engine)
        trusted = add_contacts(engine, 2, "trusted", domain="trusted.example")
        add_contacts(engine, 2, "press", domain="wire.example")
        with Session(engine) as session:
            session.add_all(ContactTag(contact_id=c.id or 0, tag="embargo-ok") for c in trusted)
            session.commit()
        release = add_release(
            engine, "Harbor archive opens", embargo_at=LIFT, embargo_tz="Europe/Madrid"
        )
    finally:
        engine.dispose()
    assert release.id is not None
    return release.id


def test_schedule_says_whom_and_when_and_send_list_agrees(tmp_path: Path) -> None:
    release_id = str(newsroom(tmp_path))
    # Trusted journalists are on "press" too.
    assert "Added 2" in ok(
        tmp_path, "lists", "add", "press", "reporter0@trusted.example", "reporter1@trusted.example"
    )

    advance = ok(
        tmp_path,
        *("send", "schedule", release_id, "--list", "trusted", "--advance-copy"),
        *("--at", "2030-12-01 10:00 Europe/Madrid"),
    )
    assert advance == (
        f"Scheduled send 1 (advance copy) of release {release_id} for 2030-12-01 10:00 CET "
        "(Europe/Madrid), 09:00 UTC via sandbox. Audience now: 2 contacts: 2 to be mailed."
    )
    at_lift = run_json(tmp_path, "send", "schedule", release_id, "--list", "press", "--json")
    assert {k: at_lift[k] for k in ("send_id", "kind", "zone", "scheduled_local")} == {
        "send_id": 2,
        "kind": "at_lift",
        "zone": "Europe/Madrid",
        "scheduled_local": "2030-12-05 09:00 CET (Europe/Madrid), 08:00 UTC",
    }
    assert at_lift["scheduled_at"] == "2030-12-05T08:00:00+00:00"
    figures = ("audience", "suppressed", "left_out", "recipients", "to_send")
    assert [at_lift[k] for k in figures] == [4, 0, 2, 2, 2]
    everyone = ok(
        tmp_path,
        *("send", "schedule", release_id, "--list", "press", "--include-advance-recipients"),
        *("--at", "2030-12-06 09:00 America/New_York"),
    )
    assert everyone.startswith(
        f"Scheduled send 3 (at a time) of release {release_id} for 2030-12-06 09:00 EST "
        "(America/New_York), 14:00 UTC via sandbox. Audience now: 4 contacts: 4 to be mailed."
    )

    listed = run_json(tmp_path, "send", "list", "--json")
    assert [
        (s["send_id"], s["kind"], s["recipients"], s["left_out"], s["expected"]) for s in listed
    ] == [
        (3, "at_time", 4, 0, True),
        (2, "at_lift", 2, 2, True),
        (1, "advance_copy", 2, 0, True),
    ]
    assert listed[1]["forecast"]["to_send"] == at_lift["to_send"]
    table = run_distro(tmp_path, "send", "list", columns=200)
    assert table.returncode == 0, table.stderr
    rows = {line.split("│")[1].strip(): line for line in table.stdout.splitlines() if "│" in line}
    assert [cell.strip() for cell in rows["2"].split("│")[3:7]] == [
        "at lift",
        "scheduled",
        "2030-12-05 09:00 Europe/Madrid (CET)",
        "2 expected",
    ]
    assert "advance copy" in rows["1"]
    sends = run_json(tmp_path, "sends", "--json")
    assert [s["kind"] for s in sends] == ["at_time", "at_lift", "advance_copy"]


def test_cancelling_every_send_approves_the_release_and_reopen_makes_it_a_draft(
    tmp_path: Path,
) -> None:
    release_id = newsroom(tmp_path)
    rid = str(release_id)
    run_json(tmp_path, "send", "schedule", rid, "--list", "press", "--json")
    run_json(tmp_path, "send", "schedule", rid, "--list", "trusted", "--json")

    line = one_line_error(run(tmp_path, "release", "edit", rid, "--title", "Fixed title"))
    assert line == (
        f"error: release {rid} is scheduled (send 1 is due 2030-12-05 09:00 Europe/Madrid (CET); "
        "send 2 is due 2030-12-05 09:00 Europe/Madrid (CET)): cancel them with `distro send "
        "cancel 1` and `distro send cancel 2`, or change only the embargo (tried to change title)"
    )
    first = ok(tmp_path, "send", "cancel", "1")
    assert "Release" not in first  # send 2 can still go
    last = ok(tmp_path, "send", "cancel", "2")
    assert (
        f"Release {rid} is approved again: none of its sends is left and nothing went out. "
        f"`distro release reopen {rid}` makes it a draft to correct it."
    ) in last
    assert run_json(tmp_path, "release", "show", rid, "--json")["status"] == "approved"

    reopened = run_json(tmp_path, "release", "reopen", rid, "--json")
    assert (reopened["status"], reopened["slug"]) == ("draft", "harbor-archive-opens")
    line = one_line_error(run(tmp_path, "release", "reopen", rid))
    assert f"`distro release edit {rid}`" in line
    edited = run_json(tmp_path, "release", "edit", rid, "--title", "Fixed title", "--json")
    assert (edited["title"], edited["slug"]) == ("Fixed title", "harbor-archive-opens")

    withdrawn = ok(tmp_path, "release", "withdraw", rid)
    assert f"`distro release reopen {rid}` makes it a draft again." in withdrawn
    line = one_line_error(run(tmp_path, "release", "approve", rid))
    assert line == (
        f"error: release {rid} is withdrawn: make it a draft again with "
        f"`distro release reopen {rid}`, then approve it"
    )
    assert "Reopened release" in ok(tmp_path, "release", "reopen", rid)
