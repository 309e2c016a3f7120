"""beat opt-outs counted apart: an outcome column and a rollup counter; the preference centre's
old "unsubscribed from some beats" events become ``beat_opted_out`` events

Before this revision, unticking a beat was stored as an ``unsubscribed`` event with ``scope``
"beats" (``provider_event_id`` ``unsubscribe-beats:…``), which the report counted as an
unsubscribe and which moved the message to *unsubscribed*. Those events are retyped, their
messages' statuses recomputed from their other events (``distro.tracking.events`` rules), and
the sends they belong to recounted (``distro.tracking.summary.rebuild``), so stored reports
count them apart from now on. Sends whose events were stored before 0007 are recounted here too:
the recount runs today's summary code, which writes this revision's columns.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import distro.models.types

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The preference centre's events, as the web page stored them before this revision.
# (and as ``downgrade`` leaves beat opt-outs stored since, so that upgrading again retypes them).
_BEATS_EVENTS = (
    "provider = 'distro' AND (provider_event_id LIKE 'unsubscribe-beats:%' "
    "OR provider_event_id LIKE 'beat-opt-out:%')"
)


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN, as in 0010: a batch copy would drop tables that foreign
    # keys point at.
    op.add_column(
        "message_outcomes",
        sa.Column("beat_opted_out_at", distro.models.types.UTCDateTime(), nullable=True),
    )
    op.add_column(
        "report_rollups",
        sa.Column("beat_opted_out", sa.Integer(), server_default="0", nullable=False),
    )
    sends = _retype_old_events() | _uncounted_sends()
    if sends:
        from distro.tracking.summary import rebuild

        rebuild(op.get_bind(), sends)


def _uncounted_sends() -> set[int]:
    """Sends with events but no outcomes: stored before 0007, which leaves their recount here."""
    rows = op.get_bind().execute(
        sa.text(
            "SELECT DISTINCT m.send_id FROM events e JOIN messages m ON m.id = e.message_id "
            "LEFT JOIN message_outcomes o ON o.message_id = m.id WHERE o.message_id IS NULL"
        )
    )
    return {int(row[0]) for row in rows}


def _retype_old_events() -> set[int]:
    """Retype the old beat events, fix their messages' statuses; return the sends to recount."""
    conn = op.get_bind()
    messages = [
        row[0]
        for row in conn.execute(
            sa.text(
                f"SELECT DISTINCT message_id FROM events WHERE {_BEATS_EVENTS} "  # noqa: S608
                "AND type = 'unsubscribed' AND message_id IS NOT NULL"
            )
        )
    ]
    conn.execute(
        sa.text(
            f"UPDATE events SET type = 'beat_opted_out' WHERE {_BEATS_EVENTS} "  # noqa: S608
            "AND type = 'unsubscribed'"
        )
    )
    if not messages:
        return set()
    from distro.tracking.events import EVENT_STATUS, STATUS_RANK

    sends: set[int] = set()
    for message_id in messages:
        types = conn.execute(
            sa.text("SELECT type FROM events WHERE message_id = :id"), {"id": message_id}
        ).scalars()
        reached = [EVENT_STATUS[t] for t in types if t in EVENT_STATUS]
        # The message got the link, so it was handed over at least.
        status = max(reached, key=lambda s: STATUS_RANK[s], default="sent")
        conn.execute(
            sa.text(
                "UPDATE messages SET status = :status WHERE id = :id AND status = 'unsubscribed'"
            ),
            {"status": str(status), "id": message_id},
        )
        send = conn.execute(
            sa.text("SELECT send_id FROM messages WHERE id = :id"), {"id": message_id}
        ).scalar()
        if send is not None:
            sends.add(int(send))
    return sends


def downgrade() -> None:
    # Beat opt-outs go back to the old form (``scope`` "beats" keeps them from suppressing).
    op.execute("UPDATE events SET type = 'unsubscribed' WHERE type = 'beat_opted_out'")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), for the same reason as in upgrade.
    op.execute("ALTER TABLE report_rollups DROP COLUMN beat_opted_out")
    op.execute("ALTER TABLE message_outcomes DROP COLUMN beat_opted_out_at")
