"""The draft a pasted release is read into, and how each finding is recorded in it.

``distro.releases.importer`` reads the lines; this records what it finds. A finding can come
twice (a date in the header and again in the dateline, a second embargo line, the same contact
in two blocks), and the rule is the same everywhere: keep the first, report a disagreement in
``warnings`` instead of choosing. Keeping the rule here keeps it out of the line reading.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from distro.releases.import_contacts import ImportedContact, read_contacts
from distro.releases.import_dates import parse_embargo
from distro.releases.text_patterns import strip_markup


@dataclass
class ImportedRelease:
    """What a pasted release was read as: a draft for a person to check, so every guess that
    could be wrong is also in ``warnings``."""

    title: str
    subtitle: str = ""
    dateline: str = ""
    release_date: date | None = None
    embargo_at: datetime | None = None
    embargo_tz: str = "UTC"
    contacts: list[ImportedContact] = field(default_factory=list)
    body: str = ""
    boilerplate: str = ""
    warnings: list[str] = field(default_factory=list)
    author: str = ""  # from a byline; a release has no author field, so it is only reported


class DraftFindings:
    """The draft being filled in, with the source of its release date and the default zone."""

    def __init__(self, default_zone: str) -> None:
        self.default_zone = default_zone
        self.release = ImportedRelease(title="")
        self.date_source = ""

    @property
    def warnings(self) -> list[str]:
        return self.release.warnings

    def take_byline(self, author: str, line: str) -> None:
        """A credit line is never the headline; its names are kept as the author."""
        if not self.release.author:
            self.release.author = author
        self.warnings.append(
            f"byline {strip_markup(line)!r} is not the headline: left out of the release "
            f"(a release has no author field; author {author!r} is shown here only)"
        )

    def add_contacts(self, lines: list[str]) -> None:
        """Add the contacts of a block; one already found (a repeated block) is not added twice."""
        known = {(c.name, c.phone, c.email) for c in self.release.contacts}
        for contact, warnings in read_contacts([strip_markup(line) for line in lines]):
            if (contact.name, contact.phone, contact.email) not in known:
                self.release.contacts.append(contact)
                self.warnings.extend(warnings)

    def note_date(self, value: date, line: str, ambiguous: bool, *, weak: bool = False) -> None:
        """Keep the first release date; report a second, different one instead of choosing."""
        current = self.release.release_date
        if current is None:
            self.release.release_date, self.date_source = value, line
            if ambiguous:
                self.warnings.append(
                    f"date {line!r} could be day/month or month/day; read as {value}"
                )
        elif current != value and not weak:
            self.warnings.append(
                f"two release dates: {current} (from {self.date_source!r}) and {value} "
                f"(from {line!r}); kept {current}"
            )
        elif current != value:
            self.warnings.append(
                f"the dateline's date {value} differs from the release date {current}"
            )

    def take_embargo(self, line: str) -> None:
        """Keep the first embargo; a second line that disagrees is reported, not chosen."""
        embargo = parse_embargo(line, self.default_zone)
        self.warnings.extend(embargo.warnings)
        if embargo.at is None:
            return
        if self.release.embargo_at not in (None, embargo.at):
            self.warnings.append(f"a second embargo line {line!r} disagrees; kept the first")
            return
        self.release.embargo_at, self.release.embargo_tz = embargo.at, embargo.zone
