"""Engine factory, session scope, and the migrations entry point.

SQLite is opened in WAL mode with every transaction started as ``BEGIN IMMEDIATE``: SQLite allows
one writer, and taking the write lock up front turns lock upgrades that would deadlock into a
plain wait (bounded by ``busy_timeout``). Two helpers keep that lock off the send path's hot
spots: ``reading`` opens a deferred transaction that takes no write lock (WAL readers never
wait), and ``writing`` queues the threads of one process on a Python lock before they ask
SQLite, whose own busy wait sleeps in steps of milliseconds. PostgreSQL gets pre-pinged pooled
connections and needs neither.
"""

from __future__ import annotations

import json
import os
import sqlite3
import sys
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy.exc
from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import Pool
from sqlmodel import Session

from distro.errors import DatabaseError

if sys.platform != "win32":
    import fcntl

MIGRATIONS = Path(__file__).parent / "migrations"


def display_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    return make_url(url).render_as_string(hide_password=True)


def sqlite_file(url: str) -> Path | None:
    """The file behind a SQLite URL, or None for other databases and in-memory SQLite."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return Path(parsed.database)


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets the pragmas and locking distro relies on."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(
            parsed,
            connect_args={"check_same_thread": False, "timeout": 30},
            json_deserializer=load_json,
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(
        parsed, pool_pre_ping=True, pool_size=10, max_overflow=10, json_deserializer=load_json
    )


def load_json(text: str | bytes) -> Any:
    """JSON columns as read back: orjson, since a send reads every recipient's custom fields;
    the standard library for what orjson refuses but ``json.dumps`` may have written (NaN)."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _sqlite_on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # Let SQLAlchemy, not the driver, decide when transactions begin (see _sqlite_on_begin).
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "busy_timeout=30000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


# Execution option marking a connection whose transactions only read.
READ_ONLY = "distro_read_only"


class _WriterTurn:
    """Whose turn it is to write a SQLite file: threads of this process queue on a Python lock,
    processes on an advisory lock on ``<database>-writer``. Both wake the next writer as soon as
    the lock is free, where SQLite's busy handler would sleep for milliseconds between tries."""

    def __init__(self, path: Path | None) -> None:
        self._threads = threading.Lock()
        self._fd: int | None = None
        if path is not None and sys.platform != "win32":
            self._fd = os.open(f"{path}-writer", os.O_RDWR | os.O_CREAT, 0o600)
            weakref.finalize(self, os.close, self._fd)

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._threads:
            if self._fd is None or sys.platform == "win32":
                yield
                return
            fcntl.flock(self._fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._fd, fcntl.LOCK_UN)


_WRITER_TURNS: weakref.WeakKeyDictionary[Pool, _WriterTurn] = weakref.WeakKeyDictionary()
_WRITER_TURNS_GUARD = threading.Lock()


def _sqlite_on_begin(connection: Any) -> None:
    deferred = connection.get_execution_options().get(READ_ONLY)
    connection.exec_driver_sql("BEGIN" if deferred else "BEGIN IMMEDIATE")


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only; on SQLite its transaction takes no write lock."""
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY: True})
        yield conn


def check_connection(engine: Engine) -> None:
    """Run a trivial query, so that a health check fails when the database does not answer."""
    with reading(engine) as conn:
        conn.exec_driver_sql("SELECT 1")


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """``engine.begin()``, but on SQLite writers first wait their turn (see ``_WriterTurn``)."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            yield conn
        return
    with _WRITER_TURNS_GUARD:
        turn = _WRITER_TURNS.get(engine.pool)
        if turn is None:
            turn = _WRITER_TURNS[engine.pool] = _WriterTurn(sqlite_file(str(engine.url)))
    with turn.held(), engine.begin() as conn:
        yield conn


@contextmanager
def writing_session(engine: Engine) -> Iterator[Session]:
    """An ORM session in one ``writing`` transaction: committed when the block succeeds, rolled
    back when it raises. The session joins the connection's transaction and never commits it
    itself, so a service is one transaction however many flushes it makes."""
    with writing(engine) as conn, Session(bind=conn, expire_on_commit=False) as session:
        yield session
        session.flush()


@contextmanager
def reading_session(engine: Engine) -> Iterator[Session]:
    """An ORM session for reads only (see ``reading``); what it loads stays readable after."""
    with reading(engine) as conn, Session(bind=conn, expire_on_commit=False) as session:
        yield session


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _alembic_config() -> AlembicConfig:
    config = AlembicConfig()
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def head_revision() -> str:
    head = ScriptDirectory.from_config(_alembic_config()).get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    with _translated(engine.url.render_as_string(hide_password=True)), engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def upgrade(engine: Engine) -> str:
    """Create or upgrade the schema to the newest revision; return that revision."""
    with _translated(engine.url.render_as_string(hide_password=True)), engine.begin() as conn:
        config = _alembic_config()
        config.attributes["connection"] = conn
        command.upgrade(config, "head")
    return head_revision()


def init_database(url: str) -> tuple[str | None, str]:
    """Create or upgrade the database at ``url``; return (revision before, revision now)."""
    path = sqlite_file(url)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
    engine = make_engine(url)
    try:
        return current_revision(engine), upgrade(engine)
    finally:
        engine.dispose()


def open_database(url: str) -> Engine:
    """An engine for an existing, fully migrated database, or a one-line DatabaseError."""
    path = sqlite_file(url)
    if path is not None and not path.is_file():
        raise DatabaseError(f"no database at {path}: run `distro init` to create it")
    engine = make_engine(url)
    try:
        revision = current_revision(engine)
        if revision is None:
            raise DatabaseError(
                f"{display_url(url)} has no distro schema: run `distro init` to create it"
            )
        if revision != head_revision():
            raise DatabaseError(
                f"{display_url(url)} is at schema revision {revision}, this distro needs "
                f"{head_revision()}: run `distro init` to upgrade it"
            )
    except BaseException:
        engine.dispose()  # close the pooled connection instead of leaking it
        raise
    return engine


@contextmanager
def _translated(where: str) -> Iterator[None]:
    """Turn driver failures into one clear DatabaseError line."""
    try:
        yield
    except sqlalchemy.exc.DBAPIError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        if "file is not a database" in reason or "malformed" in reason:
            raise DatabaseError(f"{where} is not a usable SQLite database ({reason})") from None
        raise DatabaseError(f"cannot use database {where}: {reason}") from None
