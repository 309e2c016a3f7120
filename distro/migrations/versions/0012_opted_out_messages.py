"""sends.opted_out: how many contacts a send's beat segment left out because they opted out of a
beat it names (each recorded as an ``opted_out`` message); sends already fired count none.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A plain ADD COLUMN (see 0010: a batch copy of sends is refused while messages point at it).
    op.add_column("sends", sa.Column("opted_out", sa.Integer(), server_default="0", nullable=False))


def downgrade() -> None:
    op.execute("DELETE FROM messages WHERE status = 'opted_out'")
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), for the same reason as in upgrade.
    op.execute("ALTER TABLE sends DROP COLUMN opted_out")
