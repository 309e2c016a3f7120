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
from distro.releases.views import ReleaseView


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


@dataclass(frozen=True)
class EditedRelease:
    """The release after an edit, the fields that changed, and the sends that followed a new
    embargo (``moved_sends``) or are now due before it lifts (``early_sends``)."""

    release: ReleaseView
    changed: list[str] = field(default_factory=list)
    moved_sends: list[int] = field(default_factory=list)
    early_sends: list[int] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.release.as_dict(),
            "changed": self.changed,
            "moved_sends": self.moved_sends,
            "early_sends": self.early_sends,
        }


def edit(engine: Engine, release_id: int, changes: dict[str, Any], now: datetime) -> EditedRelease:
    with locked(engine, release_id, now) as (session, release):
        outcome = lifecycle.edit_release(session, release, changes)
    return EditedRelease(
        ReleaseView.of(outcome.release), outcome.changed, outcome.moved_sends, outcome.early_sends
    )


@dataclass(frozen=True)
class ApproveOutcome:
    """The approved release and what staff should look at before scheduling it."""

    release: ReleaseView
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {**self.release.as_dict(), "warnings": self.warnings}


def approve(engine: Engine, release_id: int, now: datetime) -> ApproveOutcome:
    with locked(engine, release_id, now) as (session, release):
        lifecycle.approve(release)
        session.add(release)
        stale = approve_warning(release, now)
    return ApproveOutcome(ReleaseView.of(release), [stale] if stale else [])


def reopen(engine: Engine, release_id: int, now: datetime) -> ReleaseView:
    """Back to draft (see ``lifecycle.reopen``)."""
    with locked(engine, release_id, now) as (session, release):
        lifecycle.reopen(session, release, now)
    return ReleaseView.of(release)
