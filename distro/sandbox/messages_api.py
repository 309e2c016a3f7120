"""JSON views of the sandbox's store, for tests, benchmarks and scripts."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, HTTPException

if TYPE_CHECKING:
    from distro.sandbox.app import Sandbox


def build_messages_router(sandbox: Sandbox) -> APIRouter:
    router = APIRouter(prefix="/api/messages")
    store = sandbox.store

    @router.get("")
    def list_messages(to: str | None = None) -> dict[str, Any]:
        """Newest first; ``to`` filters by recipient. Counts cover the listed messages."""
        messages = store.messages(to=to)
        if to:
            counts = dict(Counter(r for m in messages for r in m.recipients))
        else:
            counts = store.recipient_counts()
        return {
            "count": len(messages),
            "recipients": counts,
            "messages": [m.summary() for m in messages],
        }

    @router.get("/{message_id}")
    def get_message(message_id: str) -> dict[str, Any]:
        message = store.get(message_id)
        if message is None:
            raise HTTPException(404, f"no message {message_id}")
        return message.to_json()

    @router.delete("")
    def clear_messages() -> dict[str, Any]:
        deleted = len(store)
        store.clear()
        return {"deleted": deleted}

    return router
