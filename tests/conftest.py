"""Shared fixtures: settings on temporary folders, fresh migrated databases (SQLite always,
PostgreSQL when the server at 127.0.0.1:5432 answers), and a live distro app with its sandbox."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import Engine

from distro.assemble import build_app
from distro.config import BUILT_IN, Settings
from distro.db import make_engine, upgrade
from distro.web.server import ServerThread, bind_socket, socket_url

# Chromium fixtures and layout helpers for browser tests, and which tests are slow (see those
# modules).
pytest_plugins = ("tests.browser_support", "tests.slow_marks")

PG_ADMIN_URL = os.environ.get("DISTRO_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

SettingsFactory = Callable[..., Settings]


def _merge(base: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def make_settings(database_url: str, **sections: Any) -> Settings:
    """Embedded defaults with a test secret, fast polling, and the given overrides."""
    data = _merge(
        {
            **BUILT_IN,
            "database": {"url": database_url},
            "server": {"secret_key": "test-secret-" + "x" * 20},
            "scheduler": {"poll_seconds": 0.2},
        },
        sections,
    )
    return Settings.model_validate(data)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'distro.db'}"


def _postgres_database() -> Iterator[str]:
    name = f"distro_test_{secrets.token_hex(6)}"
    try:
        admin = psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        pytest.skip(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {str(exc).strip()}")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards (skips without a server)."""
    yield from _postgres_database()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Each test using it runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'distro.db'}"
    else:
        yield from _postgres_database()


@pytest.fixture
def engine(sqlite_url: str) -> Iterator[Engine]:
    """A migrated SQLite database."""
    created = make_engine(sqlite_url)
    upgrade(created)
    yield created
    created.dispose()


@pytest.fixture
def any_engine(database_url: str) -> Iterator[Engine]:
    """A migrated database, on SQLite and on PostgreSQL."""
    created = make_engine(database_url)
    upgrade(created)
    yield created
    created.dispose()


class LiveDistro:
    """The distro app (webhooks, links, mounted sandbox) served over loopback."""

    def __init__(self, settings: Settings, engine: Engine, server: ServerThread, sandbox: Any):
        self.settings = settings
        self.engine = engine
        self.server = server
        self.sandbox = sandbox
        self.url = server.url


@pytest.fixture
def live_distro_factory() -> Iterator[Callable[..., LiveDistro]]:
    started: list[LiveDistro] = []

    def start(engine: Engine, **sections: Any) -> LiveDistro:
        sock = bind_socket("127.0.0.1", 0)
        url = socket_url(sock)
        settings = make_settings(
            engine.url.render_as_string(hide_password=False),
            **_merge({"server": {"public_url": url}}, sections),
        )
        app, sandbox = build_app(settings, engine, url)
        server = ServerThread(app, sock).start()
        live = LiveDistro(settings, engine, server, sandbox)
        started.append(live)
        return live

    yield start
    for live in started:
        live.server.stop()
        if live.sandbox is not None:
            live.sandbox.close()
