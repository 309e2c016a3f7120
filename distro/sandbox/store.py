"""Thread-safe in-memory record of every message the sandbox accepted.

API handlers add to it from the event loop while tests, pages and webhook threads read it, so
every access goes through one lock. Recipient counts let tests assert "each journalist got the
release exactly once" without scanning the messages themselves.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class StoredMessage:
    """One accepted message, as the API received it plus what the sandbox assigned."""

    message_id: str
    received_at: datetime
    from_: str
    to: str
    recipients: tuple[str, ...]
    cc: str = ""
    bcc: str = ""
    reply_to: str = ""
    subject: str = ""
    html_body: str = ""
    text_body: str = ""
    headers: tuple[tuple[str, str], ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    tag: str = ""
    message_stream: str = "outbound"

    def summary(self) -> dict[str, Any]:
        """The short form used in listings."""
        return {
            "MessageID": self.message_id,
            "ReceivedAt": self.received_at.isoformat(),
            "From": self.from_,
            "To": self.to,
            "Subject": self.subject,
            "Tag": self.tag,
            "MessageStream": self.message_stream,
        }

    def to_json(self) -> dict[str, Any]:
        """Everything, with Postmark's field names."""
        return {
            **self.summary(),
            "Cc": self.cc,
            "Bcc": self.bcc,
            "ReplyTo": self.reply_to,
            "Recipients": list(self.recipients),
            "HtmlBody": self.html_body,
            "TextBody": self.text_body,
            "Headers": [{"Name": name, "Value": value} for name, value in self.headers],
            "Metadata": dict(self.metadata),
        }


class SandboxStore:
    """Accepted messages in arrival order, and how often each address received one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[StoredMessage] = []
        self._by_id: dict[str, StoredMessage] = {}
        self._counts: Counter[str] = Counter()

    def add(self, message: StoredMessage) -> None:
        with self._lock:
            self._messages.append(message)
            self._by_id[message.message_id] = message
            self._counts.update(message.recipients)

    def get(self, message_id: str) -> StoredMessage | None:
        with self._lock:
            return self._by_id.get(message_id)

    def messages(self, to: str | None = None) -> list[StoredMessage]:
        """Newest first; ``to`` keeps those with that recipient (case-insensitive)."""
        wanted = to.strip().lower() if to else None
        with self._lock:
            found = [m for m in self._messages if wanted is None or wanted in m.recipients]
        found.reverse()
        return found

    def recipient_counts(self) -> dict[str, int]:
        """Address (lower-cased) to the number of accepted messages it was a recipient of."""
        with self._lock:
            return dict(self._counts)

    def __len__(self) -> int:
        with self._lock:
            return len(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._by_id.clear()
            self._counts.clear()
