"""The FastAPI app every distro server runs: its whole stack inside the body limit and the
security headers.

Wrapping the stack as built (rather than adding middleware) puts both outside Starlette's own
error handler, so even the 500 of an unhandled error carries the headers, and a body refused
mid-stream is answered 413 rather than 500.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp

from distro.web.body_limit import BodyLimitMiddleware, LimitFor
from distro.web.security_headers import SecurityHeadersMiddleware


class HardenedApp(FastAPI):
    def __init__(
        self, *, security_headers: Mapping[str, str], body_limit: LimitFor, **options: Any
    ) -> None:
        super().__init__(**options)
        self.security_headers = security_headers
        self.body_limit = body_limit

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        limited = BodyLimitMiddleware(stack, self.body_limit)
        return SecurityHeadersMiddleware(limited, self.security_headers)
