"""report summary: messages keep outlet, region and beats as addressed; per-message outcomes
and per-send rollups kept as events are stored

Messages already in the database get their contact's current outlet, region and beats, and
sends that already have events are recounted from them (``distro.tracking.summary.rebuild``, run
by revision 0011 once every summary column exists), so their reports stay right after the upgrade.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import distro.models.types

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _send_fk() -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["send_id"], ["sends.id"], ondelete="CASCADE")


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("outlet", sa.String(length=300), server_default="", nullable=False)
        )
        batch_op.add_column(
            sa.Column("region", sa.String(length=100), server_default="", nullable=False)
        )
        batch_op.add_column(sa.Column("beats", sa.JSON(), nullable=True))
    moment = distro.models.types.UTCDateTime()
    op.create_table(
        "message_outcomes",
        sa.Column("message_id", sa.Integer(), nullable=False),
        sa.Column("delivered_at", moment, nullable=True),
        sa.Column("deferred_at", moment, nullable=True),
        sa.Column("bounced_at", moment, nullable=True),
        sa.Column("bounce_type", sa.String(length=10), nullable=False),
        sa.Column("opened_at", moment, nullable=True),
        sa.Column("machine_opened_at", moment, nullable=True),
        sa.Column("clicked_at", moment, nullable=True),
        sa.Column("machine_clicked_at", moment, nullable=True),
        sa.Column("complained_at", moment, nullable=True),
        sa.Column("unsubscribed_at", moment, nullable=True),
        sa.Column("failed_at", moment, nullable=True),
        sa.Column("opens", sa.Integer(), nullable=False),
        sa.Column("machine_opens", sa.Integer(), nullable=False),
        sa.Column("clicks", sa.Integer(), nullable=False),
        sa.Column("machine_clicks", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("reason_at", moment, nullable=True),
        sa.Column("clicked_urls", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("message_id"),
    )
    counters = [
        "recipients",
        "suppressed",
        "delivered",
        "deferred",
        "bounced",
        "bounced_hard",
        "bounced_soft",
        "opened",
        "opened_human",
        "opened_machine",
        "opens_human",
        "opens_machine",
        "clicked",
        "clicked_human",
        "clicked_machine",
        "clicks_human",
        "clicks_machine",
        "complained",
        "unsubscribed",
    ]
    op.create_table(
        "report_rollups",
        sa.Column("send_id", sa.Integer(), nullable=False),
        sa.Column("dimension", sa.String(length=20), nullable=False),
        sa.Column("value", sa.String(length=320), nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in counters),
        _send_fk(),
        sa.PrimaryKeyConstraint("send_id", "dimension", "value"),
    )
    minute_counters = [
        "sent",
        "delivered",
        "opens_human",
        "opens_machine",
        "clicks_human",
        "clicks_machine",
        "bounces",
    ]
    op.create_table(
        "report_timeline",
        sa.Column("send_id", sa.Integer(), nullable=False),
        sa.Column("minute", moment, nullable=False),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in minute_counters),
        _send_fk(),
        sa.PrimaryKeyConstraint("send_id", "minute"),
    )
    op.create_table(
        "report_links",
        sa.Column("send_id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("clicks_human", sa.Integer(), nullable=False),
        sa.Column("clicks_machine", sa.Integer(), nullable=False),
        sa.Column("clickers", sa.Integer(), nullable=False),
        _send_fk(),
        sa.PrimaryKeyConstraint("send_id", "url"),
    )
    op.create_table(
        "report_bounces",
        sa.Column("send_id", sa.Integer(), nullable=False),
        sa.Column("bounce_type", sa.String(length=10), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("bounces", sa.Integer(), nullable=False),
        sa.Column("example", sa.Text(), nullable=False),
        _send_fk(),
        sa.PrimaryKeyConstraint("send_id", "bounce_type", "reason"),
    )
    op.create_table(
        "report_snapshots",
        sa.Column("send_id", sa.Integer(), nullable=False),
        sa.Column("audience_at", moment, nullable=True),
        sa.Column("sent_key", sa.String(length=300), nullable=True),
        _send_fk(),
        sa.PrimaryKeyConstraint("send_id"),
    )
    _backfill()


_ADDRESSED = (
    "UPDATE messages SET "
    "outlet = coalesce((SELECT c.outlet FROM contacts c WHERE c.id = messages.contact_id), ''), "
    "region = coalesce((SELECT c.region FROM contacts c WHERE c.id = messages.contact_id), ''), "
    "beats = "
)
_BEATS = {
    "postgresql": "(SELECT json_agg(b.beat ORDER BY b.beat) FROM contact_beats b "
    "WHERE b.contact_id = messages.contact_id)",
    "sqlite": "(SELECT json_group_array(b.beat) FROM contact_beats b "
    "WHERE b.contact_id = messages.contact_id)",
}


def _backfill() -> None:
    """Existing messages: addressed as their contact is now; existing events: recounted."""
    conn = op.get_bind()
    op.execute(_ADDRESSED + _BEATS[conn.dialect.name])
    # The recount itself is done by 0011 (its ``_recount_uncounted``): it runs today's summary
    # code, which writes columns later revisions add, so it must run once they exist.


def downgrade() -> None:
    for table in (
        "report_snapshots",
        "report_bounces",
        "report_links",
        "report_timeline",
        "report_rollups",
        "message_outcomes",
    ):
        op.drop_table(table)
    # ALTER TABLE ... DROP COLUMN in place (SQLite >= 3.35 too): a batch rebuild of messages
    # would drop a table that events and outcomes still point at.
    for column in ("beats", "region", "outlet"):
        op.execute(f"ALTER TABLE messages DROP COLUMN {column}")
