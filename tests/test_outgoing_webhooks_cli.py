"""`distro hooks ...` as a user runs it: the installed command in an initialised folder, with a
real receiver on loopback."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from distro.config import SECRET_FILE
from distro.db import make_engine
from distro.models import EventType
from distro.models.types import utcnow
from distro.outgoing.delivery import Deliverer
from distro.outgoing.signing import verify_signature
from distro.tracking.event import NormalisedEvent
from distro.tracking.events import store_events
from tests.cli_support import run, run_json
from tests.conftest import make_settings
from tests.test_outgoing_webhooks import Receiver, Reply


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver()
    yield running
    running.close()


# The receiver listens on loopback, which distro refuses unless configured to allow it.
ALLOW_LOOPBACK = "[outgoing_webhooks]\nallow_private_addresses = true\n"


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    (tmp_path / "config.toml").write_text(ALLOW_LOOPBACK, encoding="utf-8")
    done = run(tmp_path, "init")
    assert done.returncode == 0, done.stderr
    return tmp_path


@pytest.fixture(scope="module")
def shared_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One initialised folder for the tests that must change nothing."""
    folder = tmp_path_factory.mktemp("hooks")
    (folder / "config.toml").write_text(ALLOW_LOOPBACK, encoding="utf-8")
    assert run(folder, "init").returncode == 0
    return folder


@pytest.fixture
def workspace_engine(workspace: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{workspace / 'distro.db'}")
    yield engine
    engine.dispose()


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, f"{done.args} exited {done.returncode}:\n{done.stdout}"
    assert "Traceback" not in done.stderr + done.stdout
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_add_test_log_pause_resume_remove(workspace: Path, receiver: Receiver) -> None:
    added = run(workspace, "hooks", "add", receiver.url, "--events", "delivered,bounced")
    assert added.returncode == 0, added.stderr
    secret_lines = [line for line in added.stdout.splitlines() if "secret:" in line]
    assert len(secret_lines) == 1
    secret = secret_lines[0].split("secret:", 1)[1].strip()
    assert secret.startswith("dwhsec_")
    assert "not shown again" in added.stdout

    everything = run_json(
        workspace, "hooks", "add", "https://tools.example/in", "--from-start", "--json"
    )
    assert everything["events"] == []

    listed = run_json(workspace, "hooks", "list", "--json")
    assert [(h["url"], h["events"], h["status"]) for h in listed] == [
        (receiver.url, ["bounced", "delivered"], "ok"),
        ("https://tools.example/in", [], "ok"),
    ]
    hook_id = listed[0]["id"]
    table = run(workspace, "hooks", "list")
    assert table.returncode == 0
    assert secret not in table.stdout + str(listed)
    assert f"Webhook {hook_id}  ok  {receiver.url}" in table.stdout
    assert "events: bounced, delivered; send: all; delivered up to event 0" in table.stdout

    pinged = run(workspace, "hooks", "test", str(hook_id))
    assert pinged.returncode == 0, pinged.stderr
    assert "Ping accepted: HTTP 200" in pinged.stdout
    (ping,) = receiver.requests
    assert ping.json == {
        "endpoint": hook_id,
        "delivery": ping.headers["x-distro-delivery"],
        "events": [],
        "ping": True,
    }
    assert verify_signature(
        secret, ping.headers["x-distro-timestamp"], ping.body, ping.headers["x-distro-signature"]
    )

    (entry,) = run_json(workspace, "hooks", "log", str(hook_id), "--json")
    assert (entry["kind"], entry["ok"], entry["status_code"]) == ("ping", True, 200)
    assert "ping" in run(workspace, "hooks", "log", str(hook_id), "--limit", "5").stdout

    assert run_json(workspace, "hooks", "pause", str(hook_id), "--json")["status"] == "paused"
    resumed = run(workspace, "hooks", "resume", str(hook_id))
    assert "Resumed webhook" in resumed.stdout
    assert run_json(workspace, "hooks", "list", "--json")[0]["status"] == "ok"

    assert run_json(workspace, "hooks", "remove", str(hook_id), "--json")["removed"] is True
    assert [h["url"] for h in run_json(workspace, "hooks", "list", "--json")] == [
        "https://tools.example/in"
    ]
    gone = one_line_error(run(workspace, "hooks", "log", str(hook_id)))
    assert f"no webhook with id {hook_id}" in gone


def test_rotate_secret_replaces_the_old_one(workspace: Path, receiver: Receiver) -> None:
    old = run_json(workspace, "hooks", "add", receiver.url, "--json")
    new = run_json(workspace, "hooks", "rotate-secret", str(old["id"]), "--json")
    assert new["secret"] != old["secret"]
    assert run(workspace, "hooks", "test", str(old["id"])).returncode == 0
    (ping,) = receiver.requests
    stamp, header = ping.headers["x-distro-timestamp"], ping.headers["x-distro-signature"]
    assert verify_signature(new["secret"], stamp, ping.body, header)
    assert not verify_signature(old["secret"], stamp, ping.body, header)


def test_a_failing_endpoint_is_flagged_and_a_failed_ping_exits_1(
    workspace: Path, workspace_engine: Engine, receiver: Receiver
) -> None:
    hook = run_json(workspace, "hooks", "add", receiver.url, "--json")
    store_events(
        workspace_engine,
        "sandbox",
        [NormalisedEvent(EventType.DELIVERED, "e-1", utcnow(), recipient="ana@wire.example")],
    )
    receiver.answer(Reply(500, body=b"receiver broken"), Reply(502, body=b"still broken"))
    settings = make_settings(
        str(workspace_engine.url),
        outgoing_webhooks={
            "give_up_failures": 1,
            "give_up_after_seconds": 0,
            "allow_private_addresses": True,
        },
    )
    # The CLI generated the server key beside the database; a worker there uses the same one.
    server_key = (workspace / SECRET_FILE).read_text().strip()
    deliverer = Deliverer(settings, workspace_engine, server_key)
    try:
        assert deliverer.run("test-worker") == 1
    finally:
        deliverer.close()

    (row,) = run_json(workspace, "hooks", "list", "--json")
    assert row["status"] == "failing"
    assert row["last_error"] == "HTTP 500: receiver broken"
    listed = run(workspace, "hooks", "list")
    assert f"Webhook {hook['id']}  FAILING  {receiver.url}" in listed.stdout
    assert "failing since" in listed.stdout
    assert f"then `distro hooks resume {hook['id']}`" in listed.stdout
    assert "last error: HTTP 500: receiver broken" in listed.stdout

    failed = one_line_error(run(workspace, "hooks", "test", str(hook["id"])))
    assert "HTTP 502: still broken" in failed
    assert [e["ok"] for e in run_json(workspace, "hooks", "log", str(hook["id"]), "--json")] == [
        False,
        False,
    ]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("add", "ftp://files.example/x"), "only http:// and https://"),
        (("add", "https://a.example", "--events", "delivered,read"), "unknown event type 'read'"),
        (("add", "https://a.example", "--send", "99"), "no send with id 99"),
        (("remove", "5"), "no webhook with id 5"),
        (("pause", "5"), "no webhook with id 5"),
        (("test", "5"), "no webhook with id 5"),
        (("rotate-secret", "5"), "no webhook with id 5"),
    ],
    ids=["scheme", "event-type", "send", "remove", "pause", "test", "rotate"],
)
def test_bad_input_is_one_line(
    shared_workspace: Path, args: tuple[str, ...], expected: str
) -> None:
    assert expected in one_line_error(run(shared_workspace, "hooks", *args))
    assert run_json(shared_workspace, "hooks", "list", "--json") == []
