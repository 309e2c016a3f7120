"""refused events: provider events naming a message of ours with another recipient

Such an event is stored without a message; ``claimed_message_id`` keeps the message it named,
``claimed_send_id`` that message's send (reports count by it, through a partial index that holds
refused events only) and ``unmatched_reason`` why it was not believed.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("claimed_message_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("claimed_send_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("unmatched_reason", sa.String(length=300), nullable=True))
        batch_op.create_index(
            "ix_events_claimed_send",
            ["claimed_send_id", "id"],
            unique=False,
            sqlite_where=sa.text("claimed_send_id IS NOT NULL"),
            postgresql_where=sa.text("claimed_send_id IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_claimed_send")
        batch_op.drop_column("unmatched_reason")
        batch_op.drop_column("claimed_send_id")
        batch_op.drop_column("claimed_message_id")
