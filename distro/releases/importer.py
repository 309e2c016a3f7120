"""Turn a press release pasted from a web page or a word processor into a structured draft.

Pure: text in, ``ImportedRelease`` out, no I/O. The text is read in three passes:

1. the header, line by line up to the first body paragraph: headline, subtitle, "For Immediate
   Release", dates, embargo, contacts, a dateline alone on its line, page debris;
2. the body, paragraph by paragraph: lists, headings, labelled contact blocks, debris, end marks,
   and the dateline that opens one of the first paragraphs;
3. the tail: an "About ..." section, text after an end mark ("###"), or closing paragraphs in
   which an organisation describes itself become the boilerplate.

The rules are shapes, not the words of known releases, so every guess that could be wrong is
reported in ``warnings`` for the person reviewing the draft. Empty input raises distro's
``ValidationError``; any other text yields a draft, however thin, with warnings saying what is
missing. Every pass is linear in the length of the text (a line may be megabytes long).

This module reads the lines; what it finds is recorded in the draft by
``distro.releases.import_draft``, which also decides what to do when a finding comes twice.
"""

from __future__ import annotations

from distro.errors import ValidationError
from distro.releases.bylines import find_byline, is_author_section
from distro.releases.import_body import (
    Paragraph,
    block_paragraphs,
    closing_description_start,
    expand_inline_about,
    markdown,
)
from distro.releases.import_contacts import (
    CONTACT_LABEL_RE,
    ImportedContact,
    has_contact_details,
    has_phone,
    is_person_name,
    is_unlabelled_contact,
)
from distro.releases.import_dates import is_embargo_line, parse_date_line
from distro.releases.import_dates import resolve_zone as _resolve_zone
from distro.releases.import_draft import DraftFindings, ImportedRelease
from distro.releases.site_notices import is_site_notice
from distro.releases.text_patterns import (
    END_MARK_RE,
    SEPARATOR_RE,
    about_heading,
    find_dateline,
    is_debris,
    is_organisation_description,
    normalize_lines,
    release_marker,
    strip_markup,
    word_count,
)

__all__ = ["ImportedContact", "ImportedRelease", "parse_release"]


def parse_release(text: str, *, default_zone: str = "UTC") -> ImportedRelease:
    """The structured draft of a pasted release; ``warnings`` lists every uncertain guess.

    Raises ``ValidationError`` when ``text`` holds nothing but whitespace, or ``default_zone``
    is not an IANA zone name.
    """
    if not text.strip():
        raise ValidationError("nothing to import: the pasted text is empty")
    if _resolve_zone(default_zone) is None:
        raise ValidationError(f"unknown time zone {default_zone!r} (use an IANA name such as UTC)")
    return _Reader(normalize_lines(text), default_zone).read()


_MAX_HEADLINE_WORDS = 40


class _Reader:
    """One import: the lines, the draft being filled in, and what was dropped on the way."""

    def __init__(self, lines: list[str], default_zone: str) -> None:
        self.lines = lines
        self.draft = DraftFindings(default_zone)
        self.release = self.draft.release
        self.title_done = False
        self.title_line = ""
        self.dropped_before_title: list[str] = []

    @property
    def warnings(self) -> list[str]:
        return self.release.warnings

    def read(self) -> ImportedRelease:
        paragraphs = self._read_body(self._read_header())
        self._take_paragraph_dateline(paragraphs)
        body, tail = self._split_tail(paragraphs)
        self.release.body = markdown(body)
        self.release.boilerplate = markdown(tail)
        self._warn_missing()
        return self.release

    # -- pass 1: the header ------------------------------------------------------------------

    def _read_header(self) -> int:
        """Read header lines; return the index of the first body line."""
        i = 0
        while i < len(self.lines):
            if not self.lines[i]:
                i += 1
                continue
            used = self._header_metadata(i)
            if used:
                i += used
            elif self._preamble_step(i):
                i += 1
            else:
                return i
        return i

    def _preamble_step(self, i: int) -> bool:
        """The headline, then a dateline alone or a deck line: True when line ``i`` was used."""
        if not self.title_done:
            return self._title_step(i)
        return self._dateline_alone(i) or self._subtitle(i)

    def _header_metadata(self, i: int) -> int:
        """Lines used by debris, markers, dates, embargoes or contacts at ``i`` (0: none)."""
        line = self.lines[i]
        plain = strip_markup(line)
        byline = find_byline(line)  # before debris, which would drop "Written by X" unreported
        if byline is not None:
            self.draft.take_byline(byline.author, byline.line)
            return 1
        if END_MARK_RE.match(line) or SEPARATOR_RE.match(line) or is_debris(line):
            return 1
        if not self.title_done and is_site_notice(line):
            self.dropped_before_title.append(line)
            return 1
        is_marker, marker_date = release_marker(line)
        if is_marker:
            if marker_date is not None:
                self.draft.note_date(marker_date.value, line, marker_date.ambiguous)
            return 1
        if is_embargo_line(plain):
            self.draft.take_embargo(plain)
            return 1
        if CONTACT_LABEL_RE.match(plain):
            return self._take_contacts(i) - i
        found = parse_date_line(plain)
        if found is not None:
            self.draft.note_date(found.value, line, found.ambiguous)
            return 1
        if is_unlabelled_contact(line):
            self.draft.add_contacts([line])
            return 1
        # The word count first: it is cheap, and a long line (pasted text can be one line of
        # megabytes) is then not read for contact details a second time.
        if word_count(line) <= 12 and has_phone(line):
            if self.title_done:
                self.warnings.append(f"dropped {line!r}: a phone line that names no person")
            return 1
        return 0

    def _title_step(self, i: int) -> bool:
        """Take the headline at ``i``, or drop page text before it; False: the body starts."""
        line = self.lines[i]
        text = strip_markup(line)
        if line.startswith("# "):
            return self._set_title(text, line)
        if self._markdown_headline_ahead(i) or word_count(text) < 3:
            self.dropped_before_title.append(line)
            return True
        if word_count(text) > _MAX_HEADLINE_WORDS or find_dateline(text) is not None:
            self.title_done = True  # prose, or a paragraph opening with its dateline
            return False
        if text.endswith(".") or word_count(text) > 25:
            self.warnings.append(f"headline {text!r} reads like a sentence; check it")
        return self._set_title(text, line)

    def _set_title(self, text: str, line: str) -> bool:
        self.release.title, self.title_line = text, line
        self.title_done = True
        return True

    def _markdown_headline_ahead(self, i: int) -> bool:
        """A "# Headline" a few lines on outranks plain text above it (site names, menus)."""
        ahead = [line for line in self.lines[i + 1 : i + 20] if line][:8]
        return any(line.startswith("# ") for line in ahead)

    def _dateline_alone(self, i: int) -> bool:
        """ "San Bernardino, CA" or "CHICAGO —" on its own line before the body."""
        if self.release.dateline:
            return False
        found = find_dateline(strip_markup(self.lines[i]), alone=True)
        if found is None:
            return False
        self.release.dateline = found.place
        if found.date is not None:
            self.draft.note_date(found.date.value, self.lines[i], found.date.ambiguous, weak=True)
        return True

    def _subtitle(self, i: int) -> bool:
        """A deck: "## Deck", or a short line alone that is not a sentence, before the body."""
        line = self.lines[i]
        if self.release.subtitle or not self._more_text_after(i):
            return False
        text = strip_markup(line)
        if line.startswith(("## ", "### ")):
            self.release.subtitle = text
            return True
        ends_block = i + 1 == len(self.lines) or not self.lines[i + 1]
        alone = ends_block and (
            i == 0 or not self.lines[i - 1] or self.lines[i - 1] == self.title_line
        )
        emphasised = line[:1] in "*_" and line[-1:] in "*_"
        if not (alone or emphasised) or not 3 <= word_count(text) <= 30:
            return False
        if text.endswith((".", ":", ";", ",")) or text.lower().startswith("by "):
            return False
        self.release.subtitle = text
        return True

    def _more_text_after(self, i: int) -> bool:
        return any(self.lines[i + 1 :])

    # -- header and body: contact blocks (recorded in the draft: import_draft) ---------------

    def _take_contacts(self, i: int) -> int:
        """Read the contact block labelled at ``i``; return the index after it."""
        block = [self.lines[i]]
        start = i + 1
        if not CONTACT_LABEL_RE.sub("", strip_markup(self.lines[i]), count=1).strip():
            while start < len(self.lines) and not self.lines[start]:
                start += 1
        end = self._contact_run_end(start)
        block += self.lines[start:end]
        self.draft.add_contacts(block)
        return max(end, i + 1)

    def _contact_run_end(self, start: int) -> int:
        """Lines from ``start`` that belong to a contact block: up to the last one with a phone
        or email, through short lines only (names, titles), never across a blank line."""
        end = start
        j = start
        while j < len(self.lines) and self.lines[j]:
            line = self.lines[j]
            if has_contact_details(line):
                end = j + 1
            elif _sentence_like(line) or is_debris(line):
                break
            j += 1
        return end

    # -- pass 2: the body ---------------------------------------------------------------------

    def _read_body(self, start: int) -> list[Paragraph]:
        """Paragraphs from ``start`` on, with debris and contact blocks taken out."""
        paragraphs: list[Paragraph] = []
        block: list[str] = []
        after_end = False
        i = start
        while i < len(self.lines):
            line = self.lines[i]
            kind = self._body_line_kind(i, block, after_end)
            if kind in ("blank", "end", "heading", "about", "contact"):
                paragraphs += block_paragraphs(block, after_end)
                block = []
            if kind == "end":
                after_end = True
            elif kind == "contact":
                i = self._take_contacts(i)
                continue
            elif kind in ("heading", "about"):
                text = about_heading(line) if kind == "about" else line
                paragraphs.append(Paragraph(text or line, kind, after_end))
            elif kind == "embargo":
                self.draft.take_embargo(strip_markup(line))
            elif kind == "text":
                block.append(line)
            i += 1
        return paragraphs + block_paragraphs(block, after_end)

    def _body_line_kind(self, i: int, block: list[str], after_end: bool) -> str:
        """What body line ``i`` is: blank, end, skip, contact, embargo, heading, about or text."""
        line = self.lines[i]
        if not line:
            return "blank"
        if END_MARK_RE.match(line):
            return "end"
        if SEPARATOR_RE.match(line) or is_debris(line) or release_marker(line)[0]:
            return "skip"
        plain = strip_markup(line)
        if CONTACT_LABEL_RE.match(plain) or (after_end and is_unlabelled_contact(line)):
            return "contact"
        if (
            after_end
            and not block
            and is_person_name(plain)
            and self._contact_run_end(i + 1) > i + 1
        ):
            return "contact"  # "Jane Doe / +1 555 ... / jane@..." under the end mark
        if not block and is_embargo_line(plain) and word_count(plain) <= 20:
            return "embargo"
        if not block and (about_heading(line) or is_author_section(line)):
            return "about"
        return "heading" if line.startswith("#") else "text"

    def _take_paragraph_dateline(self, paragraphs: list[Paragraph]) -> None:
        """Strip "CHICAGO -" / "(Washington)-" from one of the first three body paragraphs."""
        if self.release.dateline:
            return
        candidates = [p for p in paragraphs if p.kind == "text" and not p.after_end][:3]
        for paragraph in candidates:
            found = find_dateline(paragraph.text) or find_dateline(strip_markup(paragraph.text))
            if found is not None:
                self.release.dateline = found.place
                paragraph.text = found.rest
                if found.date is not None:
                    self.draft.note_date(
                        found.date.value, found.place, found.date.ambiguous, weak=True
                    )
                return

    # -- pass 3: the tail ---------------------------------------------------------------------

    def _split_tail(self, paragraphs: list[Paragraph]) -> tuple[list[Paragraph], list[Paragraph]]:
        """(body, boilerplate): from an "About" heading, an end mark, or a closing description."""
        paragraphs = expand_inline_about(paragraphs)
        start = next((k for k, p in enumerate(paragraphs) if k and p.kind == "about"), None)
        if start is None:
            start = next((k for k, p in enumerate(paragraphs) if k and p.after_end), None)
            if start is not None and not any(
                is_organisation_description(p.text) for p in paragraphs[start:]
            ):
                self.warnings.append(
                    "the text after the end mark was kept as boilerplate; check it"
                )
        if start is None:
            start = closing_description_start(paragraphs)
        if start is None:
            self.warnings.append(
                "no boilerplate found: no 'About ...' section or closing organisation description"
            )
            return paragraphs, []
        return paragraphs[:start], paragraphs[start:]

    def _warn_missing(self) -> None:
        release = self.release
        if self.dropped_before_title and release.title:
            shown = ", ".join(repr(line) for line in self.dropped_before_title[:5])
            self.warnings.append(f"dropped short lines before the headline as page text: {shown}")
        missing = [
            (not release.title, "no headline found"),
            (
                not release.dateline,
                "no dateline found (a place such as 'CHICAGO' opening the text)",
            ),
            (release.release_date is None, "no release date found"),
            (not release.contacts, "no media contacts found"),
            (not release.body.strip(), "no body text found"),
        ]
        self.warnings.extend(message for absent, message in missing if absent)


def _sentence_like(line: str) -> bool:
    """Too long, or a full stop after several words: prose, not a name or job title."""
    return word_count(line) > 10 or (line.endswith(".") and word_count(line) > 6)
