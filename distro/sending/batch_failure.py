"""What happens to a claimed batch when building or handing it over raised something unforeseen.

Before this, the claim was released and the exception re-raised: the same batch was claimed
again at once, raised again, and the send never finished (one bad recipient stalled 244). Now
the rows still claimed (not handed over) are settled here, once:

* an error that is clearly passing (the database busy or unreachable for a moment) releases
  them for the next claim;
* anything else marks them *failed* with the error, which ``send list``, the report and the log
  show. Rows already handed over are left to their lease: they may have gone out.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import datetime

from sqlalchemy import Engine, update
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeoutError

from distro.db import writing
from distro.errors import DatabaseError
from distro.models import MessageStatus
from distro.sending.claims import release_claim
from distro.sending.finishing import finish_send
from distro.sending.tables import MESSAGES
from distro.single_line import single_line

log = logging.getLogger(__name__)

#: Errors that say nothing about the batch itself: give the rows back and try again.
TRANSIENT = (OperationalError, PoolTimeoutError, DatabaseError)


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TRANSIENT)


def settle_broken_batch(
    engine: Engine,
    owner: str,
    send_id: int,
    message_ids: Collection[int],
    exc: Exception,
    now: datetime,
) -> int:
    """Release or fail the rows of a broken batch still claimed by ``owner``; return how many
    were failed. Never raises: a failure here is logged and the lease takes over."""
    if is_transient(exc):
        log.warning("send %d: batch released after a passing error: %s", send_id, exc)
        try:
            release_claim(engine, owner, message_ids)
        except Exception:
            log.exception("send %d: could not release the batch; its lease will", send_id)
        return 0
    error = f"not sent: unexpected error building the batch: {single_line(repr(exc))[:300]}"
    m = MESSAGES
    try:
        with writing(engine) as conn:
            failed = conn.execute(
                update(m)
                .where(
                    m.c.id.in_(list(message_ids)),
                    m.c.lease_owner == owner,
                    m.c.status == MessageStatus.QUEUED,
                )
                .values(
                    status=MessageStatus.FAILED,
                    last_error=error,
                    lease_owner=None,
                    lease_expires_at=None,
                    next_attempt_at=None,
                    updated_at=now,
                )
            ).rowcount
            finish_send(conn, send_id, now)
    except Exception:
        log.exception("send %d: could not mark the broken batch failed; its lease will", send_id)
        return 0
    log.error("send %d: %d messages failed: %s", send_id, failed or 0, error)
    return int(failed or 0)
