"""outgoing webhooks: receiver endpoints and their delivery log

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-22
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import distro.models.types

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "outgoing_webhooks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("secret_sealed", sa.Text(), nullable=False),
        sa.Column("event_types", sa.JSON(), nullable=False),
        sa.Column("send_id", sa.Integer(), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("cursor_event_id", sa.Integer(), nullable=False),
        sa.Column("batch_last_id", sa.Integer(), nullable=True),
        sa.Column("consecutive_failures", sa.Integer(), nullable=False),
        sa.Column("failing_since", distro.models.types.UTCDateTime(), nullable=True),
        sa.Column("next_attempt_at", distro.models.types.UTCDateTime(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_attempt_at", distro.models.types.UTCDateTime(), nullable=True),
        sa.Column("last_success_at", distro.models.types.UTCDateTime(), nullable=True),
        sa.Column("gave_up_at", distro.models.types.UTCDateTime(), nullable=True),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_expires_at", distro.models.types.UTCDateTime(), nullable=True),
        sa.Column("created_at", distro.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["send_id"], ["sends.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "outgoing_webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("endpoint_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("attempted_at", distro.models.types.UTCDateTime(), nullable=False),
        sa.Column("first_event_id", sa.Integer(), nullable=True),
        sa.Column("last_event_id", sa.Integer(), nullable=True),
        sa.Column("event_count", sa.Integer(), nullable=False),
        sa.Column("ok", sa.Boolean(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["endpoint_id"], ["outgoing_webhooks.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("outgoing_webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_outgoing_deliveries_endpoint", ["endpoint_id", "id"])
        batch_op.create_index("ix_outgoing_deliveries_attempted", ["attempted_at"])


def downgrade() -> None:
    with op.batch_alter_table("outgoing_webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_outgoing_deliveries_attempted")
        batch_op.drop_index("ix_outgoing_deliveries_endpoint")
    op.drop_table("outgoing_webhook_deliveries")
    op.drop_table("outgoing_webhooks")
