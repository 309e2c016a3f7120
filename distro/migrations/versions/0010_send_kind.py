"""send kinds and advance-copy recipients: what each send is for, the zone its moment was given
in, whether it leaves out contacts who received an advance copy, how many it left out; when a
release was last reopened

Sends already stored get the kind their flags describe. A send that has not fired yet leaves out
advance-copy recipients from now on, as every new one does.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import distro.models.types

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ALTER TABLE ... ADD COLUMN, not a batch copy of the tables: a copy drops them, which
    # their foreign keys (messages -> sends -> releases) refuse on SQLite while rows exist.
    for column in (
        sa.Column("kind", sa.String(length=20), server_default="at_time", nullable=False),
        sa.Column("scheduled_tz", sa.String(length=64), server_default="UTC", nullable=False),
        sa.Column(
            "include_advance_recipients",
            sa.Boolean(),
            server_default=sa.text("false"),
            nullable=False,
        ),
        sa.Column("left_out", sa.Integer(), server_default="0", nullable=False),
    ):
        op.add_column("sends", column)
    op.add_column(
        "releases", sa.Column("reopened_at", distro.models.types.UTCDateTime(), nullable=True)
    )
    sends = sa.table(
        "sends",
        sa.column("kind", sa.String()),
        sa.column("is_test", sa.Boolean()),
        sa.column("embargo_notice", sa.Boolean()),
        sa.column("at_embargo", sa.Boolean()),
    )
    op.execute(
        sends.update().values(
            kind=sa.case(
                (sends.c.is_test, "test"),
                (sends.c.embargo_notice, "advance_copy"),
                (sends.c.at_embargo, "at_lift"),
                else_="at_time",
            )
        )
    )


def downgrade() -> None:
    # ALTER TABLE ... DROP COLUMN (SQLite 3.35+), for the same reason as in upgrade.
    for column in ("left_out", "include_advance_recipients", "scheduled_tz", "kind"):
        op.execute(f"ALTER TABLE sends DROP COLUMN {column}")
    op.execute("ALTER TABLE releases DROP COLUMN reopened_at")
