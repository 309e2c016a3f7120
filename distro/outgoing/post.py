"""One signed POST to a receiver, and what its answer means.

Only a 2xx answer counts as accepted. Redirects are not followed (a receiver must give its final
URL). Requests go only to checked public addresses (``distro.outgoing.destinations``); a refused
destination is never connected to. Of a refusing answer, only the first KiB is read and at
most ``ANSWER_CHARS`` characters of it, on one line, go into the delivery log that
``hooks log`` and ``hooks test`` show.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from distro.outgoing.destinations import DestinationRefused, Destinations, PinnedTransport
from distro.outgoing.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_header,
)
from distro.providers.base import retry_after_seconds

USER_AGENT = "distro-webhooks/1"
SNIPPET_BYTES = 1024
ANSWER_CHARS = 200


@dataclass(frozen=True, slots=True)
class Attempt:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    #: Seconds the receiver asked us to wait (Retry-After), if it did.
    retry_after: float | None = None

    def as_dict(self) -> dict[str, Any]:
        """The outcome as `hooks test --json` gives it (Retry-After is for the scheduler)."""
        return {
            "ok": self.ok,
            "status_code": self.status_code,
            "error": self.error,
            "duration_ms": self.duration_ms,
        }


def make_client(
    timeout: float, destinations: Destinations, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """A client that posts only to addresses ``destinations`` allows (``transport``, for tests,
    is what it then connects through)."""
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        transport=PinnedTransport(destinations, transport),
        # No proxy from the environment: it would connect to the receiver in our place,
        # unchecked.
        trust_env=False,
    )


def post_signed(
    client: httpx.Client, url: str, secret: str, payload: dict[str, Any], delivery: str
) -> Attempt:
    """POST ``payload`` as JSON, signed with ``secret`` at the current wall-clock second."""
    body = orjson.dumps(payload)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        SIGNATURE_HEADER: signature_header(secret, timestamp, body),
        DELIVERY_HEADER: delivery,
    }
    started = time.perf_counter()
    try:
        with client.stream("POST", url, content=body, headers=headers) as response:
            snippet = _first_bytes(response)
    except DestinationRefused as exc:
        return _failed(f"refused: {exc}", started)
    except httpx.TimeoutException as exc:
        return _failed(f"timed out ({type(exc).__name__})", started)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return _failed(f"{type(exc).__name__}: {exc}", started)
    elapsed = _ms(started)
    code = response.status_code
    if 200 <= code < 300:
        return Attempt(True, code, None, elapsed)
    if response.is_redirect:
        reason = f"redirect to {response.headers.get('location', '?')} not followed"
    else:
        reason = _one_line(snippet.decode("utf-8", "replace")) or response.reason_phrase
    return Attempt(
        False, code, f"HTTP {code}: {reason}", elapsed, retry_after_seconds(response.headers)
    )


def _first_bytes(response: httpx.Response) -> bytes:
    chunks = bytearray()
    for chunk in response.iter_bytes():
        chunks += chunk
        if len(chunks) >= SNIPPET_BYTES:
            break
    return bytes(chunks[:SNIPPET_BYTES])


def _one_line(text: str) -> str:
    """A receiver's answer as the log keeps it: one line of printable text, cut short.

    The receiver chooses these bytes and staff read them in a terminal: control characters
    (escape sequences included) become spaces.
    """
    printable = "".join(c if c.isprintable() else " " for c in text)
    shown = " ".join(printable.split())
    return shown if len(shown) <= ANSWER_CHARS else shown[: ANSWER_CHARS - 3] + "..."


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _failed(error: str, started: float) -> Attempt:
    return Attempt(False, None, error, _ms(started))
