"""Which of our messages an event is about, and whether to believe it.

An event names a message in one of two ways: by our own id, which the provider echoes from the
metadata we sent (Postmark ``Metadata``, SendGrid ``custom_args``, Mailgun ``user-variables``,
SES and Resend tags), or by the provider's message id. Neither proves anything by itself: the
metadata is whatever the sender of the email put there, so anybody who can send through the
same provider account (the sandbox's well-known token, a leaked API key) can mail an address of
their own with metadata naming one of our messages, and the provider then faithfully reports
that address's complaint with our id in it. And a provider message id names a whole request's
messages at SendGrid and Mailgun.

So an event is applied to a message only when the recipient it reports is that message's
recipient. One that names a message of ours with another recipient, or with none, is
``Refused``: stored without a message, with the message it claimed and why, so it never moves
a message or suppresses an address, and staff see it counted (``distro report``, ``distro
sends``) and listed (``distro events refused``). Events from our own signed links
(``NormalisedEvent.signed_link``) need no recipient: the signature proves the message; nor
does a provider record that names no address but a provider message id that belongs to exactly
one message (``NormalisedEvent.recipient_of_message``, Postmark's Unsubscribe records): the
provider assigned that id, so nobody else's mail can carry it.

Addresses are compared the way distro keys them: trimmed, a display name ("Jo <jo@x>") left
out, lower-cased as a whole (distro's contacts are lower-cased whole, so ``Jo@X`` and ``jo@x``
are one journalist), Unicode in NFC, and the domain in its IDNA ASCII form, so a provider
reporting ``jo@xn--bcher-kva.example`` matches the ``jo@bücher.example`` we sent to.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterator, Sequence
from email.utils import parseaddr
from functools import lru_cache
from typing import Any, NamedTuple

import idna
from sqlalchemy import Connection, Table, select

from distro.models import Message
from distro.tracking.event import NormalisedEvent

MESSAGES: Table = Message.__table__  # type: ignore[attr-defined]
#: Values per IN list: far below SQLite's and PostgreSQL's limits on bound parameters.
CHUNK = 900
#: Longer than any address distro sends to (the messages.email column's width).
LONGEST_ADDRESS = 320


class Match(NamedTuple):
    """The message an event belongs to."""

    id: int
    email: str
    send_id: int


class Refused(NamedTuple):
    """An event that named a message of ours but not its recipient: kept, not applied."""

    claimed: Match  # the message it named (the first, when a provider id names several)
    reason: str


Found = Match | Refused | None


def match_all(conn: Connection, provider: str, events: Sequence[NormalisedEvent]) -> list[Found]:
    """Each event's message, or why the message it names was not believed, or None when it
    names none of ours. By our own id first; else by the provider's message id (and recipient,
    since SendGrid and Mailgun give every message of one request the same id)."""
    m = MESSAGES
    own = sorted({e.message_id for e in events if e.message_id is not None})
    by_id: dict[int, Match] = {}
    for chunk in chunks(own):
        query = select(m.c.id, m.c.email, m.c.send_id).where(m.c.id.in_(chunk))
        for message_id, email, send_id in conn.execute(query):
            by_id[message_id] = Match(message_id, email, send_id)
    found: list[Found] = []
    for event in events:
        named = by_id.get(event.message_id) if event.message_id is not None else None
        found.append(None if named is None else _believe(event, named))
    wanted = sorted(
        {
            e.provider_message_id
            for e, match in zip(events, found, strict=True)
            if match is None and e.provider_message_id
        }
    )
    by_provider_id: dict[str, list[Match]] = defaultdict(list)
    for chunk in chunks(wanted):
        query = select(m.c.id, m.c.email, m.c.send_id, m.c.provider_message_id).where(
            m.c.provider == provider, m.c.provider_message_id.in_(chunk)
        )
        for row in conn.execute(query.order_by(m.c.id)):
            by_provider_id[row.provider_message_id].append(Match(row.id, row.email, row.send_id))
    for index, event in enumerate(events):
        if found[index] is None and event.provider_message_id:
            candidates = by_provider_id.get(event.provider_message_id)
            if candidates:
                found[index] = _pick(candidates, event)
    return found


def _believe(event: NormalisedEvent, named: Match) -> Match | Refused:
    """The message named by our own id, if the event's recipient is its recipient."""
    if event.signed_link:
        return named
    recipient = address_key(event.recipient)
    if not recipient:
        return Refused(named, f"names message {named.id} by its distro id and no recipient")
    if recipient != address_key(named.email):
        return Refused(
            named, f"names message {named.id} by its distro id; its recipient is another"
        )
    return named


def _pick(candidates: list[Match], event: NormalisedEvent) -> Match | Refused:
    """The one of the messages sharing a provider id that went to the event's recipient."""
    first = candidates[0]
    recipient = address_key(event.recipient)
    if not recipient and event.recipient_of_message and len(candidates) == 1:
        return first  # the provider's id is this one message's: its recipient is the event's
    if not recipient:
        return Refused(first, f"names message {first.id} by its provider id and no recipient")
    chosen = next((c for c in candidates if address_key(c.email) == recipient), None)
    if chosen is not None:
        return chosen
    if len(candidates) == 1:
        return Refused(
            first, f"names message {first.id} by its provider id; its recipient is another"
        )
    return Refused(
        first,
        f"names {len(candidates)} messages (first {first.id}) by their provider id; "
        "its recipient is none of theirs",
    )


def address_key(value: str) -> str:
    """An address as distro compares them (see the module docstring); "" for none."""
    address = value.strip()
    if len(address) > LONGEST_ADDRESS:  # no message of ours goes to it: no work spent on it
        return address.lower()
    if "<" in address:  # "Jo Reporter <jo@news.example>"
        address = parseaddr(address)[1] or address
    if address.isascii():
        return address.lower()  # nearly every address: no Unicode to normalise
    return _unicode_key(address)


@lru_cache(maxsize=4096)
def _unicode_key(address: str) -> str:
    normalised = unicodedata.normalize("NFC", address)
    local, at, domain = normalised.rpartition("@")
    if not at:
        return normalised.lower()
    try:
        ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
    except (idna.IDNAError, UnicodeError):  # not a domain IDNA can write: compared as it is
        ascii_domain = domain
    return f"{local.lower()}@{ascii_domain.lower()}"


def chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]
