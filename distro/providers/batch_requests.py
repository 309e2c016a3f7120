"""Helpers for adapters that may split one batch into several requests (SendGrid, Mailgun):
one result per email whatever mix of answers and whole-request errors the requests got."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from distro.errors import OutcomeUnknownError, ProviderError, RetryableProviderError
from distro.providers.base import OutboundEmail, SendResult
from distro.providers.shared_template import TemplateGroup


def repeated_addresses(emails: Sequence[OutboundEmail]) -> list[bool]:
    """For each email, whether its address (case-insensitively) came earlier in the batch."""
    seen: set[str] = set()
    repeated = []
    for email_ in emails:
        address = email_.to_email.strip().lower()
        repeated.append(address in seen)
        seen.add(address)
    return repeated


def send_groups(
    emails: Sequence[OutboundEmail],
    requests: Sequence[tuple[list[int], TemplateGroup]],
    send: Callable[[Sequence[OutboundEmail], TemplateGroup], list[SendResult]],
    outcomes: dict[int, SendResult | ProviderError],
) -> None:
    """Send each request in turn, recording each email's result or whole-request error.

    After a retryable error (429, 5xx, no connection) or refused credentials, later requests are
    not sent: they would fail the same way, and they record that same error instead.
    """
    stop: ProviderError | None = None
    for members, group in requests:
        if stop is None:
            try:
                results = send([emails[i] for i in members], group)
            except ProviderError as exc:
                outcomes.update(dict.fromkeys(members, exc))
                if isinstance(exc, RetryableProviderError) or exc.status_code in (401, 403):
                    stop = exc
            else:
                outcomes.update(zip(members, results, strict=True))
        else:
            outcomes.update(dict.fromkeys(members, stop))


def settle(
    emails: Sequence[OutboundEmail], outcomes: Mapping[int, SendResult | ProviderError]
) -> list[SendResult]:
    """One result per email, or the error to raise when whole-request failures cover the batch.

    One error for every email (one request, or later ones not sent after it) is raised as it is;
    retryable errors from several requests raise the one asking for the longest wait, so the
    engine keeps its Retry-After. Anything mixed becomes per-email results.
    """
    ordered = [outcomes[i] for i in range(len(emails))]
    errors = [o for o in ordered if isinstance(o, ProviderError)]
    if errors and len(errors) == len(ordered):
        if all(e is errors[0] for e in errors):
            raise errors[0]
        retryable = [e for e in errors if isinstance(e, RetryableProviderError)]
        if len(retryable) == len(errors):
            raise max(retryable, key=lambda e: e.retry_after or 0.0)
    return [
        outcome if isinstance(outcome, SendResult) else failed(email_, outcome)
        for email_, outcome in zip(emails, ordered, strict=True)
    ]


def failed(email_: OutboundEmail, exc: ProviderError) -> SendResult:
    """One email's whole-request failure as its own result."""
    return SendResult(
        email_.message_id,
        False,
        error=str(exc),
        retryable=isinstance(exc, RetryableProviderError),
        unknown=isinstance(exc, OutcomeUnknownError),
    )
