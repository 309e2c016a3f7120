"""tracking switch and beat preferences: the beats a contact opted out of

The per-send switch is ``sends.tracking`` (there since 0001, now honoured), so only the
preference centre's table is new.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import distro.models.types

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "beat_opt_outs",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("beat", sa.String(length=100), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("created_at", distro.models.types.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["message_id"], ["messages.id"], ondelete="SET NULL"),
        sa.PrimaryKeyConstraint("contact_id", "beat"),
    )
    with op.batch_alter_table("beat_opt_outs", schema=None) as batch_op:
        batch_op.create_index("ix_beat_opt_outs_beat", ["beat", "contact_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("beat_opt_outs", schema=None) as batch_op:
        batch_op.drop_index("ix_beat_opt_outs_beat")
    op.drop_table("beat_opt_outs")
