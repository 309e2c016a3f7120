"""Sample data, and `distro demo`: one real send through every stage, in one process.

The demo uses a fresh database in a temporary folder and the built-in sandbox, so it never
touches the user's data or sends real email, whatever the user's config says.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from sqlalchemy import Engine

from distro.assemble import build_app
from distro.audience.contacts import has_contacts
from distro.audience.importer import ImportReport, import_contacts
from distro.config import BUILT_IN, Settings
from distro.db import make_engine, upgrade
from distro.models.types import utcnow
from distro.releases.service import SAMPLES, add_sample_release
from distro.releases.views import ReleaseView
from distro.reports import SendReport, build_report
from distro.sending.scheduling import Audience, schedule_send
from distro.web.server import ServerThread, bind_socket, socket_url
from distro.worker import Worker

SAMPLE_CONTACTS = SAMPLES / "contacts.csv"
SAMPLE_LIST = "sample-journalists"


def load_samples(engine: Engine) -> tuple[ImportReport | None, ReleaseView | None]:
    """Import the sample contacts unless there are contacts, and add the sample release, ready
    to send, unless there are releases. Each is a service with its own transaction: the demo
    and `serve --with-samples` only say what was loaded."""
    report = (
        None
        if has_contacts(engine)
        else import_contacts(engine, SAMPLE_CONTACTS, list_name=SAMPLE_LIST)
    )
    return report, add_sample_release(engine)


def demo_settings(folder: Path, app_url: str) -> Settings:
    return Settings.model_validate(
        {
            **BUILT_IN,
            "database": {"url": f"sqlite:///{folder / 'demo.db'}"},
            "server": {"public_url": app_url, "secret_key": secrets.token_urlsafe(32)},
            "scheduler": {"poll_seconds": 0.5},
        }
    )


def run_demo(
    say: Callable[[str], None], *, lead_seconds: float = 3.0, timeout: float = 120.0
) -> SendReport:
    with tempfile.TemporaryDirectory(prefix="distro-demo-") as folder:
        sock = bind_socket("127.0.0.1", 0)
        url = socket_url(sock)
        settings = demo_settings(Path(folder), url)
        engine = make_engine(settings.database.url)
        upgrade(engine)
        say(f"Fresh database in {folder}; distro and its sandbox provider at {url}")
        imported, release = load_samples(engine)
        assert imported is not None
        assert release is not None
        assert release.id is not None
        say(
            f"Imported {imported.imported} sample contacts into list {SAMPLE_LIST!r}; "
            f"{len(imported.invalid)} invalid rows left out"
            + "".join(
                f"\n  line {r['line']}: {r['email']}: {r['reason']}" for r in imported.invalid
            )
        )
        say(f"Created release {release.id}: {release.title}")
        app, sandbox = build_app(settings, engine, url)
        worker = Worker(settings, engine)
        try:
            with ServerThread(app, sock):
                worker.start()
                when = utcnow() + timedelta(seconds=lead_seconds)
                send = schedule_send(
                    engine,
                    settings,
                    release_id=release.id,
                    audience=Audience(lists=[SAMPLE_LIST]),
                    at=when,
                    now=utcnow(),
                )
                assert send.id is not None
                say(f"Scheduled send {send.id} for {when:%H:%M:%S} UTC; waiting for it to go out")
                report = _wait_for_outcome(engine, send.id, timeout)
        finally:
            worker.stop()
            if sandbox is not None:
                sandbox.close()
            engine.dispose()
        return report


def _wait_for_outcome(engine: Engine, send_id: int, timeout: float) -> SendReport:
    """The report once every sent message has a delivery outcome (or the timeout passed)."""
    deadline = time.monotonic() + timeout
    while True:
        report = build_report(engine, send_id)
        settled = report.pending == 0 and report.delivered + report.bounced >= report.sent
        if (settled and report.status == "sent") or time.monotonic() > deadline:
            return report
        time.sleep(0.2)
