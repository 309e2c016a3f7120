"""handover key: resend a batch whose answer was lost under the same idempotency key

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("handover_key", sa.String(length=100), nullable=True))
        batch_op.create_index(
            "ix_messages_handover_key",
            ["handover_key"],
            unique=False,
            sqlite_where=sa.text("handover_key IS NOT NULL"),
            postgresql_where=sa.text("handover_key IS NOT NULL"),
        )


def downgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_handover_key")
        batch_op.drop_column("handover_key")
