"""What the benchmark scripts share: a free port, a throwaway database, and the bench audience.

The scripts run as plain files (``python bench/bench_send.py``) and import this module as
``bench.common``: the editable install that makes ``distro`` importable puts the checkout on
``sys.path``, and that is also the name mypy and ruff resolve. Keeping these pieces in one place
means every benchmark builds its database and its contacts the same way, so their figures stay
comparable. Importing it does nothing beyond definitions: no database, socket or process is
touched until a function is called.
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, insert, literal, select
from sqlmodel import Session, col

from distro.db import upgrade
from distro.models import Contact, ContactList, ListMember
from distro.releases.lifecycle import approve
from distro.releases.service import create_sample_release

DISTRO = str(Path(sys.executable).parent / "distro")
"""The ``distro`` command of this interpreter's environment, so subprocesses run this checkout."""
PG_ADMIN = os.environ.get("DISTRO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
"""Where ``--postgres`` runs create their database: the same server the test suite uses."""
CHUNK = 20_000
"""Contacts inserted per statement: memory stays flat at any size."""


def free_port() -> int:
    """A loopback port nothing listens on now, for a server the benchmark starts."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextlib.contextmanager
def database(folder: Path, postgres: bool) -> Iterator[str]:
    """A fresh, empty database URL (a SQLite file, or a PostgreSQL database dropped after), so
    no run is measured against what an earlier one left behind."""
    if not postgres:
        yield f"sqlite:///{folder / 'bench.db'}"
        return
    name = f"distro_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def contact_row(i: int, now: datetime, outlets: int = 97, region: str = "") -> dict[str, Any]:
    """The ``i``-th bench contact as a row for a bulk insert: the ORM per contact would make
    building the audience, not the code under test, the slow part of a large benchmark."""
    return {
        "email": f"reporter{i}@outlet{i % outlets}.example",
        "first_name": f"Reporter{i}",
        "last_name": "Bench",
        "outlet": f"Outlet {i % outlets}",
        "title": "",
        "region": region,
        "country": "",
        "language": "en",
        "timezone": "",
        "notes": "",
        "custom": {},
        "status": "active",
        "created_at": now,
        "updated_at": now,
    }


def add_bench_list(conn: Connection, now: datetime) -> None:
    """The list "bench" (the first list, id 1) holding every contact, in one INSERT ... SELECT."""
    conn.execute(
        insert(ContactList.__table__),  # type: ignore[attr-defined]
        [{"name": "bench", "description": "", "created_at": now}],
    )
    conn.execute(
        insert(ListMember.__table__).from_select(  # type: ignore[attr-defined]
            ["list_id", "contact_id", "added_at"],
            select(literal(1), col(Contact.id), col(Contact.created_at)),
        )
    )


def approved_release(engine: Engine) -> int:
    """An approved sample release, ready to send; its id."""
    with Session(engine, expire_on_commit=False) as session:
        release = create_sample_release(session)
        approve(release)
        session.add(release)
        session.commit()
    assert release.id is not None
    return release.id


def populate_audience(engine: Engine, recipients: int, now: datetime) -> int:
    """A migrated database with ``recipients`` contacts on the list "bench" and an approved
    sample release; the release's id."""
    upgrade(engine)
    with engine.begin() as conn:
        for start in range(0, recipients, CHUNK):
            conn.execute(
                insert(Contact.__table__),  # type: ignore[attr-defined]
                [contact_row(i, now) for i in range(start, min(recipients, start + CHUNK))],
            )
        add_bench_list(conn, now)
    return approved_release(engine)
