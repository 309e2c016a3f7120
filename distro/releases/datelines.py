"""Whether a release's dated dateline ("MIAMI, March 3, 2021 —") fits the moment it goes out.

The date printed after the dateline is ``Release.release_date``. An imported page keeps the date
it was first published with, so a release re-sent years later would tell journalists it is old
news. Nothing is refused (a release may look back on purpose); approving and scheduling warn
when the date is more than ``STALE_DATELINE_DAYS`` from the moment the release goes out, and say
how to correct it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from zoneinfo import ZoneInfo

from distro.models import Release, Send

# A dateline may be written the day before, or name a date a few days ahead of an embargo lift;
# past a week it is no longer the release's day.
STALE_DATELINE_DAYS = 7


@dataclass(frozen=True)
class StaleDateline:
    """The printed date, the day of the moment it is compared with, and the days between."""

    written: date
    going_out: date

    @property
    def days(self) -> int:
        return (self.going_out - self.written).days

    def describe(self, when: str) -> str:
        """ "the dateline is dated March 3, 2021, 2103 days before the embargo lift (...)"."""
        direction = "before" if self.days > 0 else "after"
        return (
            f"the dateline is dated {_spoken(self.written)}, {abs(self.days)} days {direction} "
            f"{when} ({self.going_out.isoformat()})"
        )


def stale_dateline(release_date: date | None, moment: datetime, zone: str) -> StaleDateline | None:
    """The mismatch when ``release_date`` is more than ``STALE_DATELINE_DAYS`` from ``moment``
    (taken as a calendar day in ``zone``, the zone the moment was given in); else None."""
    if release_date is None:
        return None
    going_out = moment.astimezone(ZoneInfo(zone or "UTC")).date()
    found = StaleDateline(release_date, going_out)
    return found if abs(found.days) > STALE_DATELINE_DAYS else None


def approve_warning(release: Release, now: datetime) -> str | None:
    """At approval no send exists yet: compare with the embargo lift, or with today."""
    moment, when = (
        (release.embargo_at, "the embargo lift") if release.embargo_at else (now, "today")
    )
    assert moment is not None
    found = stale_dateline(release.release_date, moment, release.embargo_tz)
    if found is None:
        return None
    rid = release.id
    return (
        f"{found.describe(when)}: correct it with `distro release edit {rid} --date YYYY-MM-DD`, "
        f"print no date with `distro release edit {rid} --no-date`, or change the place with "
        f"`--dateline`"
    )


def schedule_warning(release: Release, send: Send) -> str | None:
    """Compare with the send's moment; an advance copy with the lift it is embargoed until."""
    if send.embargo_notice and release.embargo_at is not None:
        moment, zone, when = release.embargo_at, release.embargo_tz, "the lift"
    else:
        moment, zone, when = send.scheduled_at, send.scheduled_tz, f"send {send.id} goes out"
    found = stale_dateline(release.release_date, moment, zone)
    if found is None:
        return None
    rid = release.id
    return (
        f"{found.describe(when)}: to correct it, `distro send cancel {send.id}`, then "
        f"`distro release edit {rid} --date YYYY-MM-DD` (or `--no-date`), approve and schedule "
        "again"
    )


def _spoken(value: date) -> str:
    """ "March 3, 2021", as the email prints it (``distro.sending.compose``)."""
    return f"{value:%B} {value.day}, {value:%Y}"
