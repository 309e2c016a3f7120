"""The tables the outbox writes through SQLAlchemy Core, named once for the sending modules.

The hot paths (claims, results) use Core statements, not the ORM: their cost is paid per
message, and set-based ``UPDATE ... RETURNING`` needs the table, not mapped objects.
"""

from __future__ import annotations

from sqlalchemy import Table

from distro.models import Message, Release, Send

MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
SENDS: Table = Send.__table__  # type: ignore[attr-defined]
RELEASES: Table = Release.__table__  # type: ignore[attr-defined]
