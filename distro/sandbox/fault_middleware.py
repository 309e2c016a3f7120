"""A pure ASGI middleware that carries out the FaultInjector's decisions on sending requests.

Error answers use the error shape of the API the request was for. Every faulted request's body
is read first, so a slow answer still stores the message after the client has given up (as a
real provider would) and the answer to a dropped request cannot race the upload.

Dropping a connection: uvicorn hands each request's ``receive`` and ``send`` as bound methods of
its per-request cycle, which holds the connection's asyncio transport. Starlette's middleware
and ``Mount`` pass ``receive`` through untouched, and distro's own middleware wraps them with
``functools.wraps``, so the transport is found there (or on ``send``) and aborted; the client
sees the connection close with no answer, a transport error. Under a server without that shape
the fallback starts a response and raises, which makes any ASGI server close the connection
mid-answer: still a transport error, never a clean 500.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from distro.sandbox.faults import Fault, FaultInjector

#: (status, retry_after_seconds) -> the answer in one provider's error shape.
ErrorShape = Callable[[int, int], Response]


@dataclass(frozen=True, slots=True)
class SendingRoute:
    """The POST paths of one API's sending endpoints (relative to the sandbox's root)."""

    api: str
    path: re.Pattern[str]
    error: ErrorShape


class ConnectionDropped(Exception):
    """Raised to make the ASGI server abort a connection when its transport is out of reach."""


class FaultMiddleware:
    def __init__(
        self, app: ASGIApp, *, injector: FaultInjector, routes: Sequence[SendingRoute]
    ) -> None:
        self.app = app
        self.injector = injector
        self.routes = tuple(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self._sending_route(scope) if self.injector.enabled else None
        fault = self.injector.decide() if route is not None else None
        if route is None or fault is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        if body is None:  # the client went away while uploading
            return
        replay = _replaying(body, receive)
        status = fault.status
        if status is not None:
            retry_after = self.injector.options.retry_after_seconds
            await route.error(status, retry_after)(scope, replay, send)
        elif fault is Fault.SLOW:
            await asyncio.sleep(self.injector.options.slow_seconds)
            await self.app(scope, replay, send)
        elif fault is Fault.DROP_BEFORE:
            await drop_connection(receive, send)
        else:  # DROP_AFTER: the app accepts and stores, then its answer is lost
            await self.app(scope, replay, _discard)
            await drop_connection(receive, send)

    def _sending_route(self, scope: Scope) -> SendingRoute | None:
        if scope["type"] != "http" or scope["method"] != "POST":
            return None
        path: str = scope["path"]
        root: str = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        for route in self.routes:
            if route.path.fullmatch(path):
                return route
        return None


async def _read_body(receive: Receive) -> bytes | None:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that yields the already-read body once, then defers to the real one."""
    pending = [body]

    async def replay() -> Message:
        if pending:
            return {"type": "http.request", "body": pending.pop(), "more_body": False}
        return await receive()

    return replay


async def _discard(message: Message) -> None:
    """The ``send`` of a request whose answer is to be lost."""


def _transport(*callables: Receive | Send) -> asyncio.WriteTransport | None:
    for function in callables:
        # Middleware that wraps them (distro's body limit, its headers) uses functools.wraps,
        # which keeps the server's own callable reachable as __wrapped__.
        owner = getattr(inspect.unwrap(function), "__self__", None)
        transport = getattr(owner, "transport", None)
        if isinstance(transport, asyncio.WriteTransport):
            return transport
    return None


async def drop_connection(receive: Receive, send: Send) -> None:
    """Close the request's connection without an answer (see the module docstring)."""
    transport = _transport(receive, send)
    if transport is not None:
        transport.abort()
        # Let the server's connection_lost callback run, so it knows the client is gone and
        # does not log "returned without starting response" or try to answer.
        for _ in range(2):
            await asyncio.sleep(0)
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"1")]}
    )
    raise ConnectionDropped("sandbox fault: connection dropped")
