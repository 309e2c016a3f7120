"""Amazon SNS over HTTPS: verifying a message, fetching its certificate, confirming subscriptions.

A message is believed only after its RSA signature verifies with the certificate at
``SigningCertURL``, and that URL is fetched only if it is an HTTPS ``.pem`` on
``sns.<region>.amazonaws.com`` (or the one exact URL configured for distro's sandbox).
Certificates are cached by URL: AWS publishes a new URL when it rotates its key. A
``SubscribeURL`` is visited only if it is HTTPS on an ``sns.<region>.amazonaws.com`` host.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from distro.tracking.signatures import is_sns_https_url, is_trusted_sns_cert_url, verify_sns

FETCH_TIMEOUT = 10.0
MAX_CERTIFICATE_BYTES = 64 * 1024
CACHED_CERTIFICATES = 32
MESSAGE_TYPES = frozenset({"Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"})


class SnsUnverified(Exception):
    """The message is not proven to come from SNS (or is too old to be believed)."""


class SnsUnavailable(Exception):
    """SNS could not be reached to fetch a certificate or confirm a subscription (try later)."""


@dataclass
class SnsClient:
    """Fetches certificates (cached) and visits SubscribeURLs; ``transport`` is for tests."""

    transport: httpx.BaseTransport | None = None
    _certificates: dict[str, bytes] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(
        self,
        message: Mapping[str, Any],
        *,
        trusted_cert_urls: tuple[str, ...] = (),
        max_age: float,
        now: datetime | None = None,
    ) -> None:
        """Raise SnsUnverified unless ``message`` is signed by SNS and fresh enough."""
        kind = message.get("Type")
        if kind not in MESSAGE_TYPES:
            raise SnsUnverified(f"unknown SNS message Type {kind!r}")
        url = message.get("SigningCertURL")
        if not isinstance(url, str) or not is_trusted_sns_cert_url(url, trusted_cert_urls):
            raise SnsUnverified(f"SigningCertURL {str(url)[:200]!r} is not an SNS certificate URL")
        _check_fresh(message.get("Timestamp"), max_age, now or datetime.now(UTC))
        if not verify_sns(message, self.certificate(url)):
            raise SnsUnverified("the SNS signature does not verify")

    def certificate(self, url: str) -> bytes:
        with self._lock:
            cached = self._certificates.get(url)
        if cached is not None:
            return cached
        pem = self._get(url).content
        if len(pem) > MAX_CERTIFICATE_BYTES or b"BEGIN CERTIFICATE" not in pem:
            raise SnsUnverified(f"{url} did not answer with a certificate")
        with self._lock:
            if len(self._certificates) >= CACHED_CERTIFICATES:
                self._certificates.pop(next(iter(self._certificates)))
            self._certificates[url] = pem
        return pem

    def confirm_subscription(self, message: Mapping[str, Any]) -> str:
        """Visit the (verified) confirmation's SubscribeURL; return that URL."""
        url = message.get("SubscribeURL")
        if not isinstance(url, str) or not is_sns_https_url(url):
            raise SnsUnverified(f"SubscribeURL {str(url)[:200]!r} is not on an SNS host")
        self._get(url)
        return url

    def _get(self, url: str) -> httpx.Response:
        try:
            with httpx.Client(
                transport=self.transport, timeout=FETCH_TIMEOUT, follow_redirects=False
            ) as client:
                response = client.get(url)
        except httpx.HTTPError as exc:
            raise SnsUnavailable(f"GET {url} failed: {exc!r}") from None
        if response.status_code != 200:
            raise SnsUnavailable(f"GET {url} answered HTTP {response.status_code}")
        return response


def _check_fresh(value: Any, max_age: float, now: datetime) -> None:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise SnsUnverified(f"SNS Timestamp {str(value)[:50]!r} is not a time") from None
    if moment.tzinfo is None:
        raise SnsUnverified(f"SNS Timestamp {value!r} has no time zone")
    age = (now - moment).total_seconds()
    if not -max_age <= age <= max_age:
        raise SnsUnverified(f"SNS Timestamp {value} is further than {max_age:g} s from now")
