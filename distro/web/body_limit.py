"""A pure ASGI middleware that refuses request bodies over a per-route limit, as they arrive.

Handlers read bodies whole (``await request.body()``) before they can check a signature or a
token, so without a limit anyone could make the server hold gigabytes in memory. The limit is
checked before the app runs and before anything is read:

- a declared ``Content-Length`` over the limit is answered 413 at once and the app never runs;
- a body without one (chunked) is counted as the app reads its ``http.request`` messages; the
  one that passes the limit is not handed to the app: the client gets 413 and the app sees the
  ``BodyTooLarge`` exception, which this middleware swallows after silencing any answer the app
  (or Starlette's error handler) still tries to send. A handler that answers without reading
  the body (a bad token, say) never holds it, so its answer stands.

Either way the app reads nothing more. uvicorn then discards whatever the client still sends until
its keep-alive timeout, so a client that keeps uploading can still read the 413, and memory stays
flat.

FastAPI's own ``max_body_size`` (0.16x; distro supports FastAPI from 0.115) checks only once a
handler reads the body or starts its answer, after the handler has run, which for a handler that
answers without reading (an unsubscribe) means acting on the request first.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.types import ASGIApp, Message, Receive, Scope, Send

#: The path of a request -> the largest body, in bytes, its route accepts.
LimitFor = Callable[[str], int]


@dataclass(frozen=True)
class RouteLimits:
    """Limits by path prefix (the first that matches wins), and one for every other path."""

    prefixes: Sequence[tuple[str, int]]
    default: int

    def __call__(self, path: str) -> int:
        for prefix, limit in self.prefixes:
            if path == prefix.rstrip("/") or path.startswith(prefix):
                return limit
        return self.default


class BodyTooLarge(Exception):
    """Raised from ``receive`` inside the app once a streamed body passes its limit."""


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, limit_for: LimitFor) -> None:
        self.app = app
        self.limit_for = limit_for

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        declared = _content_length(scope)
        if declared is not None:
            # The server stops the body at its declared length, so there is nothing to count.
            if declared > limit:
                await _refuse(send, limit)
            else:
                await self.app(scope, receive, send)
            return
        await _counting(self.app, scope, receive, send, limit)


async def _counting(app: ASGIApp, scope: Scope, receive: Receive, send: Send, limit: int) -> None:
    received = 0
    responded = False  # by the app, or by us with the 413

    @functools.wraps(receive)
    async def limited_receive() -> Message:
        nonlocal received, responded
        message = await receive()
        if message["type"] == "http.request":
            received += len(message.get("body", b""))
            if received > limit:
                if not responded:
                    responded = True
                    await _refuse(send, limit)
                raise BodyTooLarge(f"request body over {limit} bytes")
        return message

    @functools.wraps(send)
    async def guarded_send(message: Message) -> None:
        nonlocal responded
        if received > limit:
            return  # the 413 went out; the app's own answer (or its 500) is dropped
        if message["type"] == "http.response.start":
            responded = True
        await send(message)

    try:
        await app(scope, limited_receive, guarded_send)
    except BodyTooLarge:
        if received <= limit:  # not ours: some other body raised it
            raise


def _content_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses such a request before the app sees it
    return None


async def _refuse(send: Send, limit: int) -> None:
    body = json.dumps(
        {
            "type": "about:blank",
            "title": "Content Too Large",
            "status": 413,
            "detail": f"this route accepts request bodies of at most {limit} bytes",
        }
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/problem+json"),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
