"""The FastAPI app every distro server runs: its whole stack inside the request body limit.

Wrapping the stack as built (rather than adding middleware) puts the limit outside Starlette's
own error handler, so a body refused mid-stream is answered 413 rather than 500.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from starlette.types import ASGIApp

from distro.web.body_limit import BodyLimitMiddleware, LimitFor


class HardenedApp(FastAPI):
    def __init__(self, *, body_limit: LimitFor, **options: Any) -> None:
        super().__init__(**options)
        self.body_limit = body_limit

    def build_middleware_stack(self) -> ASGIApp:
        return BodyLimitMiddleware(super().build_middleware_stack(), self.body_limit)
