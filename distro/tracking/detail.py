"""How an event's typed fields are written into the ``events.detail`` JSON column, in one place.

The keys are the ones rows have always had (``bounce_type``, ``url`` ...), so stored events read
as before: reports fold them (``distro.tracking.summary_fold``), soft bounces are counted by
``bounce_type`` in SQL (``distro.tracking.suppressing``), outgoing webhooks publish them. A field
left at its empty default is not written, as parsers never wrote a key they had nothing for.
"""

from __future__ import annotations

from typing import Any

from distro.tracking.event import NormalisedEvent

#: The stored keys of the fields read back from the column.
BOUNCE_KIND = "bounce_type"
REASON = "reason"
DESCRIPTION = "description"
MTA_RESPONSE = "mta_response"
SMTP_STATUS = "status"
CLICK_URL = "url"
MACHINE = "machine"
RAW = "raw"


def stored_detail(event: NormalisedEvent) -> dict[str, Any]:
    """The ``detail`` column's value for ``event``."""
    written: dict[str, Any] = {}
    if event.bounce_kind is not None:
        written[BOUNCE_KIND] = str(event.bounce_kind)
    for key, value in (
        (REASON, event.reason),
        (DESCRIPTION, event.description),
        (MTA_RESPONSE, event.mta_response),
        (SMTP_STATUS, event.smtp_status),
        ("origin", event.origin),
        (CLICK_URL, event.click_url),
        ("user_agent", event.user_agent),
        ("ip", event.ip),
    ):
        if value:
            written[key] = value
    if event.machine is not None:
        written[MACHINE] = event.machine
    if event.machine_reason:
        written["machine_reason"] = event.machine_reason
    if event.scope is not None:
        written["scope"] = str(event.scope)
    if event.beats:
        written["beats"] = list(event.beats)
    if event.raw is not None:
        written[RAW] = event.raw
    return written
