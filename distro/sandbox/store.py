"""Thread-safe in-memory record of every message the sandbox accepted.

API handlers add to it from the event loop while tests, pages and webhook threads read it, so
every access goes through one lock. Recipient counts let tests assert "each journalist got the
release exactly once" without scanning the messages themselves; they cover every accepted
message even when a bound on stored messages (for long benchmarks) has let old ones go.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
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
    #: Which provider API accepted it (one of distro.sandbox.options.APIS); webhooks use its format.
    api: str = "postmark"
    #: The sender's own id for this message (Postmark Metadata, SendGrid custom_args, Mailgun
    #: ``v:`` variable, SES EmailTags, Resend tags), echoed back in every webhook.
    custom_id: str = ""
    #: Custom values as the provider echoes them in webhooks (custom_args, user-variables, tags).
    custom_args: Mapping[str, str] = field(default_factory=dict)
    #: The sandbox's own handle when ``message_id`` is shared (a Mailgun batch has one id for
    #: every recipient's message); "" means ``message_id`` is unique and serves as the handle.
    key: str = ""

    @property
    def ref(self) -> str:
        """A unique handle for pages and the JSON API."""
        return self.key or self.message_id

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
            "Api": self.api,
            "CustomId": self.custom_id,
            "Ref": self.ref,
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
            "CustomArgs": dict(self.custom_args),
        }


class SandboxStore:
    """Accepted messages in arrival order, and how often each address received one.

    ``max_messages`` keeps only that many newest messages (None: all); the counts still cover
    every message ever accepted, so memory stays flat however many a benchmark sends.
    """

    def __init__(self, max_messages: int | None = None) -> None:
        if max_messages is not None and max_messages < 1:
            raise ValueError("max_messages must be at least 1")
        self.max_messages = max_messages
        self._lock = threading.Lock()
        self._messages: deque[StoredMessage] = deque()
        self._by_ref: dict[str, StoredMessage] = {}
        self._by_id: dict[str, StoredMessage] = {}  # the first message with that provider id
        self._counts: Counter[str] = Counter()
        self._apis: Counter[str] = Counter()
        self._evicted = 0

    def add(self, message: StoredMessage) -> None:
        with self._lock:
            self._messages.append(message)
            self._by_ref[message.ref] = message
            self._by_id.setdefault(message.message_id, message)
            for recipient in message.recipients:  # Counter.update costs more for one or two
                self._counts[recipient] += 1
            self._apis[message.api] += 1
            if self.max_messages is not None and len(self._messages) > self.max_messages:
                self._evict_oldest_locked()

    def _evict_oldest_locked(self) -> None:
        oldest = self._messages.popleft()
        self._evicted += 1
        if self._by_ref.get(oldest.ref) is oldest:
            del self._by_ref[oldest.ref]
        if self._by_id.get(oldest.message_id) is oldest:
            del self._by_id[oldest.message_id]
            # The messages of one call (a Mailgun batch) are stored together: the next one, if
            # it shares the id, answers for it now.
            following = self._messages[0] if self._messages else None
            if following is not None and following.message_id == oldest.message_id:
                self._by_id[following.message_id] = following

    @property
    def evicted(self) -> int:
        """How many accepted messages were let go to stay within ``max_messages``."""
        with self._lock:
            return self._evicted

    def get(self, ref: str) -> StoredMessage | None:
        """The message with this handle, else the first one with this provider message id."""
        with self._lock:
            return self._by_ref.get(ref) or self._by_id.get(ref)

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

    def api_counts(self) -> dict[str, int]:
        """Provider API name to the number of messages it accepted."""
        with self._lock:
            return dict(self._apis)

    def __len__(self) -> int:
        """Messages stored now (every accepted one unless ``max_messages`` let some go)."""
        with self._lock:
            return len(self._messages)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._by_ref.clear()
            self._by_id.clear()
            self._counts.clear()
            self._apis.clear()
            self._evicted = 0
