"""JSON views of the sandbox's store, for tests, benchmarks and scripts."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import APIRouter, HTTPException, Query

if TYPE_CHECKING:
    from distro.sandbox.app import Sandbox


def build_messages_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter(prefix="/api/messages")
    store = sandbox.store

    @router.get("")
    def list_messages(
        to: str | None = None,
        api: str | None = None,
        limit: Annotated[int | None, Query(ge=0)] = None,
    ) -> dict[str, Any]:
        """Newest first; ``to`` filters by recipient, ``api`` by the API that accepted them and
        ``limit`` caps how many are listed.

        ``count`` and the counts cover every matching message (unfiltered, every accepted one,
        also those a store bound let go: see ``evicted``); ``faults`` counts injected faults.
        """
        messages = store.messages(to=to)
        if api:
            messages = [m for m in messages if m.api == api]
        if to or api:
            count = len(messages)
            counts = dict(Counter(r for m in messages for r in m.recipients))
            apis = dict(Counter(m.api for m in messages))
        else:
            counts, apis = store.recipient_counts(), store.api_counts()
            count = sum(apis.values())
        listed = messages if limit is None else messages[:limit]
        return {
            "count": count,
            "recipients": counts,
            "apis": apis,
            "faults": sandbox.faults.counts(),
            "evicted": store.evicted,
            "messages": [m.summary() for m in listed],
        }

    @router.get("/{ref}")
    def get_message(ref: str) -> dict[str, Any]:
        """One message by its ``Ref`` (or its provider message id)."""
        message = store.get(ref)
        if message is None:
            raise HTTPException(404, f"no message {ref}")
        return message.to_json()

    @router.delete("")
    def clear_messages() -> dict[str, Any]:
        deleted = len(store)
        store.clear()
        return {"deleted": deleted}

    return router
