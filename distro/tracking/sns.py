"""Amazon SNS over HTTPS: verifying a message, fetching its certificate, confirming subscriptions.

A message is believed only after its RSA signature verifies with the certificate at
``SigningCertURL``. Everything that can be checked without the network is checked first, so a
forged message costs no request: its ``Type`` and the fields its signature covers, the
``SignatureVersion``, the ``Signature`` being base64 of an RSA signature's length, the
``Timestamp`` being fresh, and ``SigningCertURL`` being an HTTPS ``.pem`` URL on
``sns.<region>.amazonaws.com`` for the region of the ``TopicArn`` (which the caller has already
matched to a configured topic), or the one exact URL configured for distro's sandbox.

Only then is the certificate fetched, and fetching is bounded:

- good certificates are cached by URL (AWS publishes a new URL when it rotates its key), the
  least recently used dropped past ``CACHED_CERTIFICATES``;
- a URL that gave no certificate is remembered for ``FAILED_FOR`` seconds and refused at once;
- certificates are fetched one at a time, at most ``FETCHES_PER_MINUTE`` a minute, with a short
  timeout, so a flood of forged messages naming new URLs cannot become a flood of requests.

A message whose certificate cannot be had is refused like any unverifiable one (``status`` 403),
not deferred with a 503: otherwise anyone who knows the topic could make distro fetch on demand.
The price, documented in the README, is that a genuine message arriving while AWS cannot serve a
new certificate is refused too. A ``SubscribeURL`` is visited only if it is HTTPS on the
topic's ``sns.<region>.amazonaws.com`` host.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from distro.tracking.sns_signatures import (
    is_sns_https_url,
    is_trusted_sns_cert_url,
    sns_string_to_sign,
    verify_sns,
)

FETCH_TIMEOUT = 3.0
MAX_CERTIFICATE_BYTES = 64 * 1024
CACHED_CERTIFICATES = 32
FAILED_FOR = 300.0
REMEMBERED_FAILURES = 1024
FETCHES_PER_MINUTE = 10
MESSAGE_TYPES = frozenset({"Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"})
SIGNATURE_VERSIONS = frozenset({"1", "2"})
#: Byte lengths of RSA signatures with 1024- to 4096-bit keys.
SIGNATURE_LENGTHS = frozenset({128, 256, 384, 512})
_TOPIC_ARN = re.compile(r"^arn:(aws|aws-cn|aws-us-gov):sns:([a-z0-9-]+):\d{12}:[\w.-]+$")


class SnsUnverified(Exception):
    """The message is not proven to come from SNS (or is too old to be believed).

    ``status`` is the answer: 401 for a message that fails its own checks, 403 when its
    certificate could not be had.
    """

    def __init__(self, reason: str, status: int = 401) -> None:
        super().__init__(reason)
        self.status = status


class SnsUnavailable(Exception):
    """SNS could not be reached to confirm a verified subscription (try later)."""


def sns_host(topic_arn: object) -> str | None:
    """``sns.<region>.amazonaws.com`` (``.com.cn`` in China) for a topic ARN, else None."""
    match = _TOPIC_ARN.match(topic_arn) if isinstance(topic_arn, str) else None
    if match is None:
        return None
    partition, region = match.groups()
    return f"sns.{region}.amazonaws.com" + (".cn" if partition == "aws-cn" else "")


def is_topic_cert_url(url: str, topic_arn: object) -> bool:
    """An HTTPS ``.pem`` URL, without query or fragment, on the topic's own SNS host."""
    parts = urlsplit(url)
    return (
        is_trusted_sns_cert_url(url)
        and not parts.query
        and not parts.fragment
        and parts.hostname == sns_host(topic_arn)
    )


@dataclass
class SnsClient:
    """Fetches certificates (see the module's rules) and visits SubscribeURLs.

    ``transport`` is for tests; ``clock`` (monotonic seconds) times the memory of failures.
    """

    transport: httpx.BaseTransport | None = None
    clock: Callable[[], float] = time.monotonic
    _certificates: OrderedDict[str, bytes] = field(default_factory=OrderedDict)
    _failed: OrderedDict[str, float] = field(default_factory=OrderedDict)
    _fetched_at: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _fetch_lock: threading.Lock = field(default_factory=threading.Lock)

    def verify(
        self,
        message: Mapping[str, Any],
        *,
        trusted_cert_urls: tuple[str, ...] = (),
        max_age: float,
        now: datetime | None = None,
    ) -> None:
        """Raise SnsUnverified unless ``message`` is signed by SNS and fresh enough."""
        url = _check_without_fetching(message, trusted_cert_urls, max_age, now or datetime.now(UTC))
        if not verify_sns(message, self.certificate(url)):
            raise SnsUnverified("the SNS signature does not verify")

    def certificate(self, url: str) -> bytes:
        """The certificate PEM at ``url``: cached, or fetched within the limits."""
        known = self._known(url)
        if known is not None:
            return known
        with self._fetch_lock:  # one fetch at a time; others wait and find its result
            known = self._known(url)
            if known is not None:
                return known
            self._spend_a_fetch(url)
            try:
                pem = self._fetch_certificate(url)
            except SnsUnverified:
                with self._lock:
                    self._failed[url] = self.clock()
                    while len(self._failed) > REMEMBERED_FAILURES:
                        self._failed.popitem(last=False)
                raise
            with self._lock:
                self._certificates[url] = pem
                while len(self._certificates) > CACHED_CERTIFICATES:
                    self._certificates.popitem(last=False)
            return pem

    def confirm_subscription(self, message: Mapping[str, Any]) -> str:
        """Visit the (verified) confirmation's SubscribeURL; return that URL."""
        url = message.get("SubscribeURL")
        host = sns_host(message.get("TopicArn"))
        if not isinstance(url, str) or not is_sns_https_url(url):
            raise SnsUnverified(f"SubscribeURL {str(url)[:200]!r} is not on an SNS host", 403)
        if host is not None and urlsplit(url).hostname != host:
            raise SnsUnverified(
                f"SubscribeURL {url[:200]!r} is not on the topic's host {host}", 403
            )
        try:
            status, _ = self._get(url)
        except httpx.HTTPError as exc:
            raise SnsUnavailable(f"GET {url} failed: {exc!r}") from None
        if status != 200:
            raise SnsUnavailable(f"GET {url} answered HTTP {status}")
        return url

    def _known(self, url: str) -> bytes | None:
        """The cached certificate; None if never tried; SnsUnverified if it failed lately."""
        with self._lock:
            pem = self._certificates.get(url)
            if pem is not None:
                self._certificates.move_to_end(url)
                return pem
            failed_at = self._failed.get(url)
            if failed_at is not None and self.clock() - failed_at < FAILED_FOR:
                raise SnsUnverified(
                    f"the certificate at {url} could not be had {self.clock() - failed_at:.0f} s "
                    f"ago; not fetched again for {FAILED_FOR:g} s",
                    403,
                )
        return None

    def _spend_a_fetch(self, url: str) -> None:
        now = self.clock()
        with self._lock:
            while self._fetched_at and now - self._fetched_at[0] >= 60:
                self._fetched_at.popleft()
            if len(self._fetched_at) >= FETCHES_PER_MINUTE:
                raise SnsUnverified(
                    f"{FETCHES_PER_MINUTE} SNS certificates fetched in the last minute; "
                    f"{url} is not fetched now",
                    403,
                )
            self._fetched_at.append(now)

    def _fetch_certificate(self, url: str) -> bytes:
        try:
            status, pem = self._get(url)
        except httpx.HTTPError as exc:
            raise SnsUnverified(
                f"the certificate at {url} could not be fetched: {exc!r}", 403
            ) from None
        if status != 200:
            raise SnsUnverified(f"{url} answered HTTP {status}", 403)
        try:
            if len(pem) > MAX_CERTIFICATE_BYTES:
                raise ValueError("too large")
            key = x509.load_pem_x509_certificate(pem).public_key()
        except ValueError:
            key = None
        if not isinstance(key, rsa.RSAPublicKey):
            raise SnsUnverified(f"{url} did not answer with an RSA certificate", 403)
        return pem

    def _get(self, url: str) -> tuple[int, bytes]:
        """The status and at most MAX_CERTIFICATE_BYTES + 1 bytes of the answer."""
        with (
            httpx.Client(
                transport=self.transport, timeout=FETCH_TIMEOUT, follow_redirects=False
            ) as client,
            client.stream("GET", url) as response,
        ):
            body = bytearray()
            for chunk in response.iter_bytes():
                body += chunk
                if len(body) > MAX_CERTIFICATE_BYTES:
                    break
            return response.status_code, bytes(body)


def _check_without_fetching(
    message: Mapping[str, Any], trusted_cert_urls: tuple[str, ...], max_age: float, now: datetime
) -> str:
    """Every check that needs no request; returns the certificate URL to fetch."""
    kind = message.get("Type")
    if kind not in MESSAGE_TYPES:
        raise SnsUnverified(f"unknown SNS message Type {str(kind)[:50]!r}")
    try:
        sns_string_to_sign(message)
    except ValueError as exc:
        raise SnsUnverified(str(exc)) from None
    version = message.get("SignatureVersion")
    if version not in SIGNATURE_VERSIONS:
        raise SnsUnverified(f"unknown SNS SignatureVersion {str(version)[:20]!r}")
    _check_signature_shape(message.get("Signature"))
    url = message.get("SigningCertURL")
    if not isinstance(url, str) or not (
        url in trusted_cert_urls or is_topic_cert_url(url, message.get("TopicArn"))
    ):
        raise SnsUnverified(
            f"SigningCertURL {str(url)[:200]!r} is not an SNS certificate URL for the topic's "
            "region"
        )
    _check_fresh(message.get("Timestamp"), max_age, now)
    return url


def _check_signature_shape(value: Any) -> None:
    try:
        signature = base64.b64decode(value, validate=True) if isinstance(value, str) else b""
    except (binascii.Error, ValueError):
        signature = b""
    if len(signature) not in SIGNATURE_LENGTHS:
        raise SnsUnverified("the SNS Signature is not base64 of an RSA signature")


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
