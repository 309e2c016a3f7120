"""The sender: takes leased batches from the outbox and hands them to providers.

One ``Sender`` serves a process; each of its threads loops claim -> compose -> pass the
provider's gate -> hand over -> record. What is common to a send (templates, release HTML, the
provider adapter) is built once and cached; only the per-recipient part is rendered per message,
from rows loaded with a plain select (no ORM objects on the hot path).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, NamedTuple

import jinja2
from sqlalchemy import Engine, Table, select
from sqlmodel import Session

from distro.config import Settings
from distro.db import reading
from distro.errors import (
    DistroError,
    TemplateError,
)
from distro.models import Contact, Message, Release, Send
from distro.providers import build_provider
from distro.providers.base import OutboundEmail, Provider, SendResult
from distro.sending import provider_call, queue, reconcile
from distro.sending.batch_failure import settle_broken_batch
from distro.sending.compose import Composer, composer_for
from distro.sending.gate import ProviderGate
from distro.tracking.links import LinkSigner

log = logging.getLogger(__name__)

Clock = Callable[[], datetime]
CONTACTS: Table = Contact.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True, slots=True)
class BatchReport:
    send_id: int
    handed_over: int
    accepted: int


class Recipient(NamedTuple):
    """The contact fields composing reads, as one row of the recipients query."""

    message_id: int
    email: str
    first_name: str
    last_name: str
    outlet: str
    title: str
    region: str
    country: str
    language: str
    timezone: str
    custom: dict[str, Any]


def recovery_of(provider: Provider) -> queue.Recovery:
    if provider.honours_idempotency_key:
        return queue.Recovery.IDEMPOTENCY_KEY
    if provider.offers_lookup:
        return queue.Recovery.LOOKUP
    return queue.Recovery.NONE


class ProviderPool:
    """One adapter (and so one pooled HTTP client) and one gate per provider, built on use."""

    def __init__(self, settings: Settings, factory: Callable[[str], Provider] | None = None):
        self.settings = settings
        self._factory = factory or (lambda name: build_provider(settings, name))
        self._providers: dict[str, tuple[Provider, ProviderGate]] = {}
        self._lock = threading.Lock()

    def _entry(self, name: str) -> tuple[Provider, ProviderGate]:
        with self._lock:
            if name not in self._providers:
                provider = self._factory(name)
                config = self.settings.providers.get(name)
                gate = ProviderGate(
                    config.max_in_flight if config else self.settings.sending.concurrency,
                    config.rate_per_second if config else 0.0,
                    lambda: provider.resume_at,
                )
                self._providers[name] = (provider, gate)
            return self._providers[name]

    def get(self, name: str) -> Provider:
        return self._entry(name)[0]

    def gate(self, name: str) -> ProviderGate:
        return self._entry(name)[1]

    def recovery(self) -> dict[str, queue.Recovery]:
        """What each configured provider offers for lost answers (adapters built as needed)."""
        found: dict[str, queue.Recovery] = {}
        for name in self.settings.providers:
            try:
                found[name] = recovery_of(self.get(name))
            except Exception:  # a provider that cannot be built has sent nothing to recover
                log.exception("provider %s could not be built", name)
        return found

    def close(self) -> None:
        with self._lock:
            for provider, _gate in self._providers.values():
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
        stop: threading.Event | None = None,
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.environment = environment
        self.signer = signer
        self.providers = providers
        self.clock = clock
        self.stop = stop or threading.Event()
        self._composers: dict[int, tuple[datetime, Composer]] = {}
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
            queue.finish_done_sends(self.engine, self.clock())
            return None
        try:
            return self._process(owner, claim)
        except Exception as exc:
            # Caught at the batch: the thread lives on and the rows never loop (see the module).
            log.exception("sender %s: batch of send %d failed", owner, claim.send_id)
            settle_broken_batch(
                self.engine, owner, claim.send_id, claim.message_ids, exc, self.clock()
            )
            return BatchReport(claim.send_id, 0, 0)
        except BaseException:
            # Whatever was not handed over goes back at once instead of waiting for the lease.
            queue.release_claim(self.engine, owner, claim.message_ids)
            raise

    def _process(self, owner: str, claim: queue.Claim) -> BatchReport:
        provider_name, composer = self._composer(claim.send_id)
        provider = self.providers.get(provider_name)
        emails, failures = self._compose(composer, claim.message_ids)
        if failures:
            # Not handed over, so fail them through the same hand-over path for bookkeeping.
            queue.begin_handover(self.engine, owner, failures, self.lease, self.clock())
            self._record(
                owner, provider, [SendResult(i, False, error=e) for i, e in failures.items()]
            )
        if claim.batch_key is not None:
            chunks = [emails]  # a batch going again under its key must go exactly as before
        else:
            size = max(1, provider.max_batch)
            chunks = [emails[i : i + size] for i in range(0, len(emails), size)]
        handed_over = accepted = 0
        for chunk in chunks:
            if self.stop.is_set():
                break
            done = self._hand_over(owner, provider, provider_name, claim, chunk)
            handed_over, accepted = handed_over + done[0], accepted + done[1]
        # Rows not handed over (held, paused or stopping mid-way) go back for whoever resumes.
        # A short claim means the send's queue ran dry: check whether it is finished now (after
        # a full one, the next empty claim checks; see queue.finish_done_sends). A full batch
        # handed over whole needs neither, and skips the transaction.
        short = len(claim.message_ids) < self.settings.sending.batch_size
        if short or handed_over + len(failures) < len(claim.message_ids):
            queue.record_results(
                self.engine,
                owner,
                [],
                self.clock(),
                max_attempts=self.settings.sending.max_attempts,
                claimed=claim.message_ids,
                send_id=claim.send_id if short else None,
            )
        return BatchReport(claim.send_id, handed_over, accepted)

    def _hand_over(
        self,
        owner: str,
        provider: Provider,
        provider_name: str,
        claim: queue.Claim,
        emails: list[OutboundEmail],
    ) -> tuple[int, int]:
        if not emails:
            return 0, 0
        key = claim.batch_key
        if key is None and provider.honours_idempotency_key:
            key = f"distro-{claim.send_id}-{emails[0].message_id}-{secrets.token_hex(6)}"
        with self.providers.gate(provider_name).passage(len(emails), self.stop) as may_go:
            if not may_go:
                return 0, 0
            ids = [e.message_id for e in emails]
            mine = set(
                queue.begin_handover(
                    self.engine,
                    owner,
                    ids,
                    self.lease,
                    self.clock(),
                    send_id=claim.send_id,
                    batch_key=key,
                )
            )
            batch = [e for e in emails if e.message_id in mine]
            if not batch:
                return 0, 0
            results, retry_after = provider_call.hand_over(provider, batch, key or "")
        self._record(owner, provider, results, retry_after)
        return len(batch), sum(1 for r in results if r.accepted)

    def _record(
        self,
        owner: str,
        provider: Provider,
        results: list[SendResult],
        retry_after: float | None = None,
    ) -> None:
        unknown = sum(1 for r in results if r.unknown)
        if unknown:
            log.warning("%s: the answer for %d messages was lost", provider.name, unknown)
        queue.record_results(
            self.engine,
            owner,
            results,
            self.clock(),
            max_attempts=self.settings.sending.max_attempts,
            recovery=recovery_of(provider),
            retry_after=retry_after,
            reconcile_after=timedelta(seconds=self.settings.sending.reconcile_seconds),
            backoff=(
                timedelta(seconds=self.settings.sending.retry_base_seconds),
                timedelta(seconds=self.settings.sending.retry_cap_seconds),
            ),
        )

    def _composer(self, send_id: int) -> tuple[str, Composer]:
        """The send's provider and composer, rebuilt when the release changed (an embargo moved,
        say). A cheap query per batch checks that; the release is loaded only on a change."""
        sends, releases = Send.__table__, Release.__table__  # type: ignore[attr-defined]
        with reading(self.engine) as conn:
            row = conn.execute(
                select(sends.c.provider, sends.c.release_id, releases.c.updated_at)
                .join(releases, releases.c.id == sends.c.release_id)
                .where(sends.c.id == send_id)
            ).one_or_none()
        if row is None:
            raise DistroError(f"send {send_id} vanished while sending")
        # One thread builds (templates compiled, CSS inlined: tens of milliseconds); the others
        # wait for it rather than build the same composer at the same moment.
        with self._lock:
            cached = self._composers.get(send_id)
            if cached is not None and cached[0] == row.updated_at:
                return row.provider, cached[1]
            composer, updated_at = self._build_composer(send_id, row.release_id)
            self._composers[send_id] = (updated_at, composer)
        return row.provider, composer

    def _build_composer(self, send_id: int, release_id: int) -> tuple[Composer, datetime]:
        with Session(self.engine) as session:
            send = session.get(Send, send_id)
            release = session.get(Release, release_id)
            if send is None or release is None:
                raise DistroError(f"send {send_id}: its release {release_id} is missing")
            composer = composer_for(
                self.settings,
                release,
                template=send.template,
                advance_copy=send.embargo_notice,
                tracking=send.tracking,
                send_id=send_id,
                environment=self.environment,
                signer=self.signer,
            )
            return composer, release.updated_at

    def _compose(
        self, composer: Composer, message_ids: Sequence[int]
    ) -> tuple[list[OutboundEmail], dict[int, str]]:
        c, m = CONTACTS, Message.__table__  # type: ignore[attr-defined]
        with reading(self.engine) as conn:
            rows = conn.execute(
                select(
                    m.c.id,
                    c.c.email,
                    c.c.first_name,
                    c.c.last_name,
                    c.c.outlet,
                    c.c.title,
                    c.c.region,
                    c.c.country,
                    c.c.language,
                    c.c.timezone,
                    c.c.custom,
                )
                .join(c, c.c.id == m.c.contact_id)
                .where(m.c.id.in_(list(message_ids)))
                .order_by(m.c.id)
            ).all()
        emails: list[OutboundEmail] = []
        failures: dict[int, str] = {}
        for row in rows:
            recipient = Recipient._make(row)
            try:
                emails.append(composer.compose(recipient.message_id, recipient))
            except TemplateError as exc:
                failures[recipient.message_id] = str(exc)
            except Exception as exc:  # one recipient's data fails that message alone
                log.exception("cannot compose message %d", recipient.message_id)
                failures[recipient.message_id] = f"not sent: cannot compose: {exc!r}"[:400]
        return emails, failures

    def reconcile(self, recovery: dict[str, queue.Recovery]) -> int:
        """Ask lookup providers (per ``recovery``, from ProviderPool.recovery) about messages
        whose send answer was lost; see ``distro.sending.reconcile``."""
        return reconcile.reconcile(
            self.engine,
            self.providers.get,
            recovery,
            self.clock(),
            timedelta(seconds=self.settings.sending.reconcile_deadline_seconds),
        )
