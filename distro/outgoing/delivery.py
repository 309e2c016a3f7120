"""The delivery job each worker runs every ``outgoing_webhooks.interval_seconds``, and the test
ping of ``distro hooks test``.

One job per process delivers batches one after another until no endpoint has anything due;
several processes share the endpoints through leases (see distro.outgoing.claims).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime, timedelta

import httpx
from sqlalchemy import Engine

from distro.config import Settings
from distro.db import reading_session
from distro.errors import ConfigError
from distro.models.types import utcnow
from distro.outgoing.batches import batch_body, delivery_id
from distro.outgoing.claims import (
    Batch,
    claim_batch,
    has_work,
    prune_log,
    record_attempt,
    record_ping,
)
from distro.outgoing.destinations import Destinations, Resolver, system_resolver
from distro.outgoing.endpoints import get_endpoint
from distro.outgoing.post import Attempt, make_client, post_signed
from distro.outgoing.vault import unseal

log = logging.getLogger(__name__)

PRUNE_EVERY = timedelta(hours=1)


class Deliverer:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        server_key: str,
        *,
        clock: Callable[[], datetime] = utcnow,
        transport: httpx.BaseTransport | None = None,
        resolver: Resolver = system_resolver,
    ) -> None:
        self.config = settings.outgoing_webhooks
        self.engine = engine
        self.server_key = server_key
        self.clock = clock
        self.destinations = Destinations(self.config.allow_private_addresses, resolver)
        self._transport = transport
        self._client: httpx.Client | None = None
        self._client_lock = threading.Lock()
        self._pruned_at: datetime | None = None

    @property
    def client(self) -> httpx.Client:
        """Made on first use: a worker with no endpoints never opens one."""
        with self._client_lock:
            if self._client is None:
                self._client = make_client(
                    self.config.timeout_seconds, self.destinations, self._transport
                )
            return self._client

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None:
                self._client.close()
                self._client = None

    def run(self, owner: str, stop: threading.Event | None = None) -> int:
        """Deliver due batches until none is left or ``stop`` is set; return how many."""
        self._prune_now_and_then()
        if not has_work(self.engine, self.config, self.clock()):
            return 0
        delivered = 0
        while stop is None or not stop.is_set():
            batch = claim_batch(self.engine, owner, self.config, self.clock())
            if batch is None:
                break
            self.deliver(owner, batch)
            delivered += 1
        return delivered

    def deliver(self, owner: str, batch: Batch) -> Attempt:
        """POST one claimed batch and record the answer."""
        try:
            secret = unseal(batch.secret_sealed, self.server_key, batch.endpoint_id)
        except ConfigError as exc:
            attempt = Attempt(False, None, str(exc), 0)
        else:
            delivery = delivery_id(batch.endpoint_id, batch.first_id, batch.last_id)
            body = batch_body(batch.endpoint_id, delivery, batch.events)
            attempt = post_signed(self.client, batch.url, secret, body, delivery)
        record_attempt(self.engine, owner, batch, attempt, self.config, self.clock())
        if attempt.ok:
            log.info(
                "webhook %d: delivered events %d-%d (%d)",
                batch.endpoint_id,
                batch.first_id,
                batch.last_id,
                len(batch.events),
            )
        else:
            log.warning("webhook %d: delivery failed: %s", batch.endpoint_id, attempt.error)
        return attempt

    def ping(self, endpoint_id: int) -> Attempt:
        """Send a signed ping with no events now, whatever the endpoint's state; logged."""
        with reading_session(self.engine) as session:
            endpoint = get_endpoint(session, endpoint_id)
            url, sealed = endpoint.url, endpoint.secret_sealed
        secret = unseal(sealed, self.server_key, endpoint_id)
        delivery = f"{endpoint_id}-ping-{int(time.time())}"
        body = {**batch_body(endpoint_id, delivery, []), "ping": True}
        attempt = post_signed(self.client, url, secret, body, delivery)
        record_ping(self.engine, endpoint_id, attempt, self.clock())
        return attempt

    def _prune_now_and_then(self) -> None:
        now = self.clock()
        if self._pruned_at is not None and now - self._pruned_at < PRUNE_EVERY:
            return
        self._pruned_at = now
        removed = prune_log(self.engine, now - timedelta(days=self.config.log_retention_days))
        if removed:
            log.info("removed %d old webhook delivery log rows", removed)
