"""segment speed: JSONB custom fields on PostgreSQL, events by type and time

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "contacts",
            "custom",
            type_=postgresql.JSONB(),
            existing_type=sa.JSON(),
            postgresql_using="custom::jsonb",
        )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index(
            "ix_events_type_occurred", ["type", "occurred_at", "message_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_type_occurred")
    if op.get_bind().dialect.name == "postgresql":
        op.alter_column(
            "contacts",
            "custom",
            type_=sa.JSON(),
            existing_type=postgresql.JSONB(),
            postgresql_using="custom::json",
        )
