"""The outbox under one name: claim messages under a lease, hand them over, record what happened.

The work is split by job, and this module names the public part of each for the sender
(``distro.sending.engine``), the worker (``distro.worker``) and tests:

* ``distro.sending.claims``: leases on queued rows, and the hand-over that marks them
  ``sending`` just before the provider call;
* ``distro.sending.results``: each message's answer, retries with backoff;
* ``distro.sending.recovery``: hand-overs whose answer was lost or whose worker vanished;
* ``distro.sending.finishing``: a send with nothing left is ``sent``, and its release with it;
* ``distro.sending.send_states``: the send's states, the one place that changes them.
"""

from __future__ import annotations

from distro.sending.backoff import RETRY_BASE, RETRY_CAP, retry_delay
from distro.sending.claims import Claim, begin_handover, claim_batch, release_claim
from distro.sending.finishing import (
    IN_FLIGHT,
    finish_done_sends,
    finish_send,
    finish_send_if_done,
    has_pending_work,
)
from distro.sending.recovery import (
    Recovery,
    due_for_reconciling,
    expire_handovers,
    postpone_reconciling,
    record_reconciled,
)
from distro.sending.results import mark_uncertain, record_results
from distro.sending.send_states import CANCELLED_NOTE
from distro.sending.tables import MESSAGES, RELEASES, SENDS

__all__ = [
    "CANCELLED_NOTE",
    "IN_FLIGHT",
    "MESSAGES",
    "RELEASES",
    "RETRY_BASE",
    "RETRY_CAP",
    "SENDS",
    "Claim",
    "Recovery",
    "begin_handover",
    "claim_batch",
    "due_for_reconciling",
    "expire_handovers",
    "finish_done_sends",
    "finish_send",
    "finish_send_if_done",
    "has_pending_work",
    "mark_uncertain",
    "postpone_reconciling",
    "record_reconciled",
    "record_results",
    "release_claim",
    "retry_delay",
]
