"""The sender: takes leased batches from the outbox and hands them to providers.

One ``Sender`` serves a process; each of its threads loops claim -> compose -> hand over ->
record. What is common to a send (templates, release HTML, the provider adapter) is built once
and cached; only the per-recipient part is rendered per message.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import jinja2
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from distro.config import Settings
from distro.errors import (
    DistroError,
    OutcomeUnknownError,
    PermanentProviderError,
    RetryableProviderError,
    TemplateError,
)
from distro.models import Contact, Message, Release, Send
from distro.providers import build_provider
from distro.providers.base import OutboundEmail, Provider, SendResult
from distro.sending import queue
from distro.sending.compose import Composer
from distro.tracking.links import LinkSigner

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]


@dataclass(frozen=True, slots=True)
class BatchReport:
    send_id: int
    handed_over: int
    accepted: int


class ProviderPool:
    """One adapter (and so one pooled HTTP client) per configured provider, built on first use."""

    def __init__(self, settings: Settings, factory: Callable[[str], Provider] | None = None):
        self._factory = factory or (lambda name: build_provider(settings, name))
        self._providers: dict[str, Provider] = {}
        self._lock = threading.Lock()

    def get(self, name: str) -> Provider:
        with self._lock:
            if name not in self._providers:
                self._providers[name] = self._factory(name)
            return self._providers[name]

    def idempotent_names(self) -> list[str]:
        with self._lock:
            return [n for n, p in self._providers.items() if p.honours_idempotency_key]

    def close(self) -> None:
        with self._lock:
            for provider in self._providers.values():
                provider.close()
            self._providers.clear()


class Sender:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        environment: jinja2.Environment,
        signer: LinkSigner,
        providers: ProviderPool,
        clock: Clock,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.environment = environment
        self.signer = signer
        self.providers = providers
        self.clock = clock
        self._composers: dict[tuple[int, datetime], Composer] = {}
        self._lock = threading.Lock()

    @property
    def lease(self) -> timedelta:
        return timedelta(seconds=self.settings.sending.lease_seconds)

    def run_once(self, owner: str) -> BatchReport | None:
        """Process one batch; None when nothing was claimable."""
        claim = queue.claim_batch(
            self.engine, owner, self.settings.sending.batch_size, self.lease, self.clock()
        )
        if claim is None:
            return None
        try:
            return self._process(owner, claim)
        except BaseException:
            # Whatever was not handed over goes back at once instead of waiting for the lease.
            queue.release_claim(self.engine, owner, claim.message_ids)
            raise

    def _process(self, owner: str, claim: queue.Claim) -> BatchReport:
        send, composer = self._composer(claim.send_id)
        provider = self.providers.get(send.provider)
        emails, failures = self._compose(composer, claim.message_ids)
        if failures:
            # Not handed over, so fail them through the same hand-over path for bookkeeping.
            queue.begin_handover(self.engine, owner, failures, self.lease, self.clock())
            self._record(owner, [SendResult(i, False, error=e) for i, e in failures.items()])
        reports = [
            self._hand_over(owner, provider, claim.send_id, chunk)
            for chunk in _chunks(emails, max(1, provider.max_batch))
        ]
        # Rows not handed over (the send was held mid-way) go back for whoever resumes it.
        queue.release_claim(self.engine, owner, claim.message_ids)
        queue.finish_send_if_done(self.engine, claim.send_id, self.clock())
        return BatchReport(
            claim.send_id,
            handed_over=sum(r[0] for r in reports),
            accepted=sum(r[1] for r in reports),
        )

    def _hand_over(
        self, owner: str, provider: Provider, send_id: int, emails: list[OutboundEmail]
    ) -> tuple[int, int]:
        ids = [e.message_id for e in emails]
        now = self.clock()
        mine = set(queue.begin_handover(self.engine, owner, ids, self.lease, now, send_id=send_id))
        batch = [e for e in emails if e.message_id in mine]
        if not batch:
            return 0, 0
        retry_after: float | None = None
        try:
            results = provider.send_batch(batch)
        except RetryableProviderError as exc:
            retry_after = exc.retry_after
            results = [
                SendResult(e.message_id, False, error=str(exc), retryable=True) for e in batch
            ]
        except PermanentProviderError as exc:
            results = [SendResult(e.message_id, False, error=str(exc)) for e in batch]
        except OutcomeUnknownError as exc:
            if provider.honours_idempotency_key:
                results = [
                    SendResult(e.message_id, False, error=str(exc), retryable=True) for e in batch
                ]
            else:
                log.error("hand-over outcome unknown for %d messages: %s", len(batch), exc)
                queue.mark_uncertain(self.engine, owner, mine, f"outcome unknown: {exc}")
                return len(batch), 0
        self._record(owner, results, retry_after)
        return len(batch), sum(1 for r in results if r.accepted)

    def _record(
        self, owner: str, results: list[SendResult], retry_after: float | None = None
    ) -> None:
        queue.record_results(
            self.engine,
            owner,
            results,
            self.clock(),
            max_attempts=self.settings.sending.max_attempts,
            retry_after=retry_after,
        )

    def _composer(self, send_id: int) -> tuple[Send, Composer]:
        """The send's composer, rebuilt when the release changed (an embargo moved, say)."""
        with Session(self.engine) as session:
            send = session.get(Send, send_id)
            if send is None:
                raise DistroError(f"send {send_id} vanished while sending")
            release = session.get(Release, send.release_id)
            if release is None:
                raise DistroError(f"send {send_id}: release {send.release_id} is missing")
            key = (send_id, release.updated_at)
            with self._lock:
                cached = self._composers.get(key)
            if cached is None:
                cached = Composer(
                    self.settings,
                    self.environment,
                    self.signer,
                    release,
                    send.template,
                    embargo_notice=send.embargo_notice,
                )
                with self._lock:
                    self._composers = {k: v for k, v in self._composers.items() if k[0] != send_id}
                    self._composers[key] = cached
        return send, cached

    def _compose(
        self, composer: Composer, message_ids: tuple[int, ...]
    ) -> tuple[list[OutboundEmail], dict[int, str]]:
        with Session(self.engine) as session:
            rows = session.exec(
                select(col(Message.id), Contact)
                .join(Contact, col(Contact.id) == col(Message.contact_id))
                .where(col(Message.id).in_(message_ids))
                .order_by(col(Message.id))
            ).all()
        emails: list[OutboundEmail] = []
        failures: dict[int, str] = {}
        for message_id, contact in rows:
            assert message_id is not None
            try:
                emails.append(composer.compose(message_id, contact))
            except TemplateError as exc:
                failures[message_id] = str(exc)
        return emails, failures


def _chunks(items: list[OutboundEmail], size: int) -> list[list[OutboundEmail]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
