"""Handing one batch to a provider so that one recipient's data can never sink the batch.

Two steps, both per message where they can be:

* **prepare**: each email's addresses are made what its provider takes
  (``distro.providers.addresses``: domains IDNA-encoded, a non-ASCII local part only where the
  provider accepts one). A message that cannot be prepared is refused alone, with the reason,
  and never reaches the request;
* **call**: the adapter's classified failures (``ProviderError``) are spread over the batch as
  before; anything else it raises is a bug or data nobody foresaw. It is logged with its
  traceback and the batch's messages end *failed* with the error: the request may have left, so
  queueing them again could mail someone twice, and a batch that raises every time would
  otherwise be claimed and raise for ever.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from distro.errors import OutcomeUnknownError, PermanentProviderError, RetryableProviderError
from distro.providers.addresses import AddressRefused, prepare_address
from distro.providers.base import OutboundEmail, Provider, SendResult
from distro.single_line import single_line

log = logging.getLogger(__name__)

UNEXPECTED = "not sent: unexpected error"


def prepare(
    provider: Provider, emails: Sequence[OutboundEmail]
) -> tuple[list[OutboundEmail], list[SendResult]]:
    """The emails ready for ``provider``, and a failed result for each that cannot be."""
    utf8 = provider.accepts_non_ascii_local_part
    ready: list[OutboundEmail] = []
    refused: list[SendResult] = []
    for email in emails:
        try:
            to_email = prepare_address(email.to_email, utf8_local_part=utf8)
        except AddressRefused as exc:
            refused.append(_refusal(provider, email, f"{email.to_email}: {exc}"))
            continue
        try:
            from_email = prepare_address(email.from_email, utf8_local_part=utf8)
        except AddressRefused as exc:
            refused.append(_refusal(provider, email, f"sender {email.from_email}: {exc}"))
            continue
        if to_email != email.to_email or from_email != email.from_email:
            email = email._replace(to_email=to_email, from_email=from_email)
        ready.append(email)
    return ready, refused


def _refusal(provider: Provider, email: OutboundEmail, reason: str) -> SendResult:
    return SendResult(email.message_id, False, error=f"{provider.name}: {reason}")


def call(
    provider: Provider, batch: Sequence[OutboundEmail], key: str
) -> tuple[list[SendResult], float | None]:
    """The provider's answer for each email, with whole-request failures spread over them.

    Never raises an ``Exception``: whatever happens, every email of ``batch`` has a result.
    """
    if not batch:
        return [], None
    try:
        results = provider.send_batch(batch, batch_key=key)
    except RetryableProviderError as exc:
        return [SendResult(e.message_id, False, error=str(exc), retryable=True) for e in batch], (
            exc.retry_after
        )
    except PermanentProviderError as exc:
        return [SendResult(e.message_id, False, error=str(exc)) for e in batch], None
    except OutcomeUnknownError as exc:
        return [SendResult(e.message_id, False, error=str(exc), unknown=True) for e in batch], None
    except Exception as exc:
        log.exception("%s: unexpected error handing over %d messages", provider.name, len(batch))
        error = f"{provider.name}: {UNEXPECTED}: {single_line(repr(exc))[:300]}"
        return [SendResult(e.message_id, False, error=error) for e in batch], None
    answered = {r.message_id for r in results}
    missing = [e for e in batch if e.message_id not in answered]
    if missing:  # an adapter bug: say so for each rather than leave rows in flight
        error = f"{provider.name}: {UNEXPECTED}: the adapter gave no result for this message"
        results = [*results, *(SendResult(e.message_id, False, error=error) for e in missing)]
    return results, None


def hand_over(
    provider: Provider, emails: Sequence[OutboundEmail], key: str
) -> tuple[list[SendResult], float | None]:
    """Prepare ``emails`` for ``provider`` and hand over those that can go; a result for each.

    A batch going again under its idempotency key is prepared the same way each time (the
    preparation is deterministic), so it still goes exactly as before.
    """
    ready, refused = prepare(provider, emails)
    results, retry_after = call(provider, ready, key)
    return [*refused, *results], retry_after
