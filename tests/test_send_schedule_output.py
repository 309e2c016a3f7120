"""What `send schedule` says, as a user runs it: the moment in the zone or offset it was typed
in and in UTC, and the audience with who is suppressed by reason; `distro sends` shows the
expected audience of a send not fired yet (from distro.sending.forecast)."""

from __future__ import annotations

from pathlib import Path

from tests.cli_support import run_json
from tests.test_cli import run_distro
from tests.test_send_schedule_cli import newsroom, ok

TRUSTED = ("reporter0@trusted.example", "reporter1@trusted.example")


def test_schedule_names_the_offset_and_counts_the_suppressed_by_reason(tmp_path: Path) -> None:
    release_id = str(newsroom(tmp_path))
    ok(tmp_path, "lists", "add", "press", *TRUSTED)
    ok(tmp_path, "suppress", "add", "reporter0@wire.example", "--reason", "unsubscribed")
    ok(tmp_path, "suppress", "add", "reporter1@wire.example", "--reason", "complaint")

    said = ok(
        tmp_path,
        *("send", "schedule", release_id, "--list", "press", "--at", "2030-12-06T09:00+02:00"),
    )
    assert said == (
        f"Scheduled send 1 (at a time) of release {release_id} for 2030-12-06 09:00 +02:00, "
        "07:00 UTC via sandbox. Audience now: 4 contacts, 2 suppressed (1 complained, "
        "1 unsubscribed): 2 to be mailed."
    )
    as_json = run_json(
        tmp_path,
        *("send", "schedule", release_id, "--list", "press", "--at", "2030-12-06 10:30 -05:00"),
        "--json",
    )
    assert as_json["scheduled_at"] == "2030-12-06T15:30:00+00:00"
    assert as_json["scheduled_local"] == "2030-12-06 10:30 -05:00, 15:30 UTC"
    assert as_json["suppressed_by_reason"] == {"complaint": 1, "unsubscribed": 1}

    sends = run_json(tmp_path, "sends", "--json")
    assert [(s["send_id"], s["recipients"], s["expected"]) for s in sends] == [
        (2, 4, True),
        (1, 4, True),
    ]
    table = run_distro(tmp_path, "sends", columns=120)
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("4 expected") == 2, table.stdout
