"""The release workflow as services: one transaction each, under the release's workflow lock.

The CLI (and later the API and the web app) call these; the rules themselves are in
``distro.releases.lifecycle``; withdrawing, which also stops the release's sends, is
``distro.sending.withdraw``. Each first settles a release left scheduled with no send that can
still go out (``distro.releases.settle``), so that it acts as the approved release it is.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from distro.db import writing_session
from distro.models import Release
from distro.releases import lifecycle
from distro.releases.datelines import approve_warning
from distro.releases.service import get_release
from distro.releases.settle import lock_release, settle


@contextmanager
def locked(engine: Engine, release_id: int, now: datetime) -> Iterator[tuple[Session, Release]]:
    """The release, locked and settled, in a session committed when the block succeeds."""
    with writing_session(engine) as session:
        conn = session.connection()
        lock_release(conn, release_id)
        get_release(session, release_id)  # a NotFoundError before anything else
        settle(conn, release_id, now)
        release = session.get(Release, release_id, populate_existing=True)
        assert release is not None
        yield session, release


def edit(
    engine: Engine, release_id: int, changes: dict[str, Any], now: datetime
) -> lifecycle.EditOutcome:
    with locked(engine, release_id, now) as (session, release):
        return lifecycle.edit_release(session, release, changes)


@dataclass(frozen=True)
class ApproveOutcome:
    """The approved release and what staff should look at before scheduling it."""

    release: Release
    warnings: list[str] = field(default_factory=list)


def approve(engine: Engine, release_id: int, now: datetime) -> ApproveOutcome:
    with locked(engine, release_id, now) as (session, release):
        lifecycle.approve(release)
        session.add(release)
        stale = approve_warning(release, now)
        return ApproveOutcome(release, [stale] if stale else [])


def reopen(engine: Engine, release_id: int, now: datetime) -> Release:
    """Back to draft (see ``lifecycle.reopen``)."""
    with locked(engine, release_id, now) as (session, release):
        lifecycle.reopen(session, release, now)
        return release
