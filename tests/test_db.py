"""Database set-up: migrations, opening an existing database, and what goes wrong clearly."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy.exc
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select, text
from sqlmodel import Session, SQLModel

import distro.models
from distro.db import (
    current_revision,
    head_revision,
    make_engine,
    open_database,
    sqlite_file,
    upgrade,
)
from distro.errors import DatabaseError
from distro.models import Release


@pytest.fixture
def fresh_engine(database_url: str) -> Iterator[Engine]:
    """An engine on an empty database (no schema), on SQLite and on PostgreSQL."""
    created = make_engine(database_url)
    yield created
    created.dispose()


def open_error(url: str) -> str:
    """The message open_database raises for ``url`` (fails the test if it opens)."""
    with pytest.raises(DatabaseError) as caught:
        open_database(url).dispose()
    message = str(caught.value)
    assert "\n" not in message, "database errors must be one line"
    return message


def test_upgrade_then_open(fresh_engine: Engine, database_url: str) -> None:
    assert current_revision(fresh_engine) is None
    assert upgrade(fresh_engine) == head_revision()
    opened = open_database(database_url)
    try:
        assert current_revision(opened) == head_revision()
        with Session(opened) as session:
            assert session.execute(select(func.count()).select_from(Release)).scalar_one() == 0
    finally:
        opened.dispose()


def test_upgrade_is_idempotent(any_engine: Engine) -> None:
    assert upgrade(any_engine) == head_revision()
    assert current_revision(any_engine) == head_revision()


def test_missing_sqlite_file_says_to_run_init(tmp_path: Path) -> None:
    path = tmp_path / "nowhere" / "distro.db"
    message = open_error(f"sqlite:///{path}")
    assert str(path) in message
    assert "distro init" in message
    assert not path.exists(), "opening must not create the database"


def test_corrupt_sqlite_file_is_one_clear_line(tmp_path: Path) -> None:
    path = tmp_path / "distro.db"
    path.write_bytes(os.urandom(8192))
    message = open_error(f"sqlite:///{path}")
    assert str(path) in message
    assert "not a usable SQLite database" in message


def test_database_without_schema_says_to_run_init(fresh_engine: Engine, database_url: str) -> None:
    with fresh_engine.begin() as conn:  # a real, reachable database, with something else in it
        conn.execute(text("CREATE TABLE unrelated (id INTEGER PRIMARY KEY)"))
    message = open_error(database_url)
    assert "no distro schema" in message
    assert "distro init" in message


def test_database_at_an_older_revision_says_to_upgrade(
    fresh_engine: Engine, database_url: str
) -> None:
    upgrade(fresh_engine)
    with fresh_engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '0000_older'"))
    message = open_error(database_url)
    assert "0000_older" in message
    assert head_revision() in message
    assert "upgrade" in message
    assert "distro init" in message


def test_sqlite_file_is_found_from_the_url(tmp_path: Path) -> None:
    assert sqlite_file(f"sqlite:///{tmp_path / 'x.db'}") == tmp_path / "x.db"
    assert sqlite_file("sqlite://") is None
    assert sqlite_file("postgresql://u@h/db") is None


def test_migrations_match_the_models(any_engine: Engine) -> None:
    assert distro.models.Release.__tablename__ in SQLModel.metadata.tables
    with any_engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_timestamps_come_back_aware_utc(any_engine: Engine) -> None:
    lift = datetime(2026, 11, 22, 9, 30, tzinfo=ZoneInfo("America/Los_Angeles"))
    assert lift.utcoffset() != timedelta(0)
    with Session(any_engine) as session:
        release = Release(slug="tz-check", title="Time zones", embargo_at=lift)
        session.add(release)
        session.commit()
        release_id = release.id
    with Session(any_engine) as session:  # a new session: the value comes from the database
        stored = session.get(Release, release_id)
        assert stored is not None
        assert stored.embargo_at is not None
        assert stored.embargo_at.tzinfo is not None
        assert stored.embargo_at.utcoffset() == timedelta(0)
        assert stored.embargo_at == lift
        assert stored.created_at.utcoffset() == timedelta(0)


def test_naive_timestamp_is_refused(any_engine: Engine) -> None:
    with Session(any_engine) as session:
        session.add(Release(slug="naive", title="Naive", embargo_at=datetime(2026, 11, 22, 9, 30)))
        with pytest.raises(sqlalchemy.exc.StatementError, match="timezone-aware"):
            session.commit()
    with Session(any_engine) as session:
        assert session.execute(select(func.count()).select_from(Release)).scalar_one() == 0
