"""One signed POST to a receiver, and what its answer means.

Only a 2xx answer counts as accepted. Redirects are not followed (a receiver must give its final
URL), and only the first KiB of an answer is read, for the delivery log.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from distro.outgoing.signing import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    signature_header,
)
from distro.providers.base import retry_after_seconds

USER_AGENT = "distro-webhooks/1"
SNIPPET_BYTES = 1024


@dataclass(frozen=True, slots=True)
class Attempt:
    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    #: Seconds the receiver asked us to wait (Retry-After), if it did.
    retry_after: float | None = None


def make_client(timeout: float, transport: httpx.BaseTransport | None = None) -> httpx.Client:
    return httpx.Client(
        timeout=httpx.Timeout(timeout),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
        transport=transport,
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
        reason = snippet.decode("utf-8", "replace").strip()[:300] or response.reason_phrase
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


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def _failed(error: str, started: float) -> Attempt:
    return Attempt(False, None, error, _ms(started))
