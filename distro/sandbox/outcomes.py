"""What the sandbox pretends happened to each recipient: an outcome, told as a sequence of steps.

Tests and demos steer outcomes through the address's local part (``bounce@`` or
``bounce+anything@``); other addresses get ``WebhookOptions.outcome_rates`` shares, else delivery.
Steps are provider-neutral; each webhook format says which of them its provider reports and how.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from html.parser import HTMLParser

DELIVERY = "delivery"
HARD_BOUNCE = "hard_bounce"
SOFT_BOUNCE = "soft_bounce"
COMPLAINT = "complaint"
DEFERRED = "deferred"
OPEN = "open"
CLICK = "click"
UNSUBSCRIBE = "unsubscribe"


class Step(StrEnum):
    """One thing a provider can report about one recipient of one message."""

    SENT = "sent"  # accepted for delivery (SendGrid processed, Mailgun accepted, SES Send, ...)
    DELIVERED = "delivered"
    DEFERRED = "deferred"  # a temporary failure; delivery is retried
    HARD_BOUNCE = "hard_bounce"
    SOFT_BOUNCE = "soft_bounce"
    COMPLAINT = "complaint"
    OPEN = "open"
    CLICK = "click"
    UNSUBSCRIBE = "unsubscribe"


#: Outcome name -> the steps reported for it, in the order they happen.
OUTCOMES: dict[str, tuple[Step, ...]] = {
    DELIVERY: (Step.SENT, Step.DELIVERED),
    HARD_BOUNCE: (Step.SENT, Step.HARD_BOUNCE),
    SOFT_BOUNCE: (Step.SENT, Step.SOFT_BOUNCE),
    COMPLAINT: (Step.SENT, Step.DELIVERED, Step.COMPLAINT),
    DEFERRED: (Step.SENT, Step.DEFERRED, Step.DELIVERED),
    OPEN: (Step.SENT, Step.DELIVERED, Step.OPEN),
    CLICK: (Step.SENT, Step.DELIVERED, Step.OPEN, Step.CLICK),
    UNSUBSCRIBE: (Step.SENT, Step.DELIVERED, Step.UNSUBSCRIBE),
}

#: Local part (exactly, or followed by "+tag") to outcome.
LOCAL_PART_OUTCOMES: dict[str, str] = {
    "delivered": DELIVERY,
    "bounce": HARD_BOUNCE,
    "softbounce": SOFT_BOUNCE,
    "complaint": COMPLAINT,
    "deferred": DEFERRED,
    "open": OPEN,
    "click": CLICK,
    "unsubscribe": UNSUBSCRIBE,
}

#: Gap between consecutive steps, so their timestamps sort in the order they happened.
STEP_GAP = timedelta(milliseconds=1)


@dataclass(frozen=True, slots=True)
class Event:
    """One step for one recipient, at a moment; ``link`` is the clicked URL of a click."""

    step: Step
    recipient: str
    at: datetime
    link: str = ""


def validate_rates(rates: Mapping[str, float]) -> None:
    """ValueError for an unknown outcome name or a negative share (checked once, up front)."""
    for name, share in rates.items():
        if name not in OUTCOMES:
            raise ValueError(f"unknown outcome {name!r}; choose from {', '.join(OUTCOMES)}")
        if share < 0:
            raise ValueError(f"outcome share for {name!r} is negative")


def outcome_for_address(recipient: str) -> str | None:
    """The outcome the address asks for by its local part, if it asks for one."""
    local = recipient.rpartition("@")[0].lower().partition("+")[0]
    return LOCAL_PART_OUTCOMES.get(local)


def choose_outcome(
    recipient: str,
    rates: Mapping[str, float] | None = None,
    rng: random.Random | None = None,
) -> str:
    """What happens to ``recipient``: its address pattern, else a draw from ``rates``.

    Shares are taken in ``rates`` order; what they leave below 1 is delivery, and shares adding
    up to more than 1 are scaled down to 1. Passing a seeded ``rng`` makes the split repeatable.
    """
    chosen = outcome_for_address(recipient)
    if chosen is not None:
        return chosen
    total = sum(rates.values()) if rates else 0.0
    if not rates or total <= 0:
        return DELIVERY
    rng = rng or random.Random()  # noqa: S311 - a simulation, not secrets
    draw = rng.random() * max(total, 1.0)
    for name, share in rates.items():
        if draw < share:
            return name
        draw -= share
    return DELIVERY


class _FirstLink(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.link: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.link is not None or tag != "a":
            return
        for name, value in attrs:
            if (
                name == "href"
                and value
                and value.strip().lower().startswith(("http://", "https://"))
            ):
                self.link = value.strip()
                return


def first_link(html: str) -> str | None:
    """The first http(s) ``<a href>`` of ``html``, which a simulated click follows."""
    parser = _FirstLink()
    parser.feed(html)
    parser.close()
    return parser.link


def events_for(outcome: str, recipient: str, html: str, start: datetime) -> list[Event]:
    """The outcome's steps for ``recipient``; a click without a link in ``html`` is dropped."""
    link = first_link(html) if Step.CLICK in OUTCOMES[outcome] else None
    steps = [s for s in OUTCOMES[outcome] if s is not Step.CLICK or link is not None]
    return [
        Event(step, recipient, start + index * STEP_GAP, (link or "") if step is Step.CLICK else "")
        for index, step in enumerate(steps)
    ]
