"""Body paragraphs of an imported release: joining wrapped lines, lists, and the tail.

Helpers for ``importer``: they decide how pasted lines become Markdown blocks and where the
closing organisation description (the boilerplate) begins.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from distro.releases.text_patterns import (
    inline_about,
    is_boilerplate_companion,
    is_organisation_description,
    list_item,
)

_TERMINAL = (".", "!", "?", ":", '"', "\u201d")


@dataclass
class Paragraph:
    text: str
    kind: str = "text"  # "text", "list", "quote", "heading" or "about" (an "About X" heading)
    after_end: bool = False  # came after an end mark such as "###"


def block_paragraphs(block: list[str], after_end: bool) -> list[Paragraph]:
    """The paragraphs and lists in a run of non-blank body lines."""
    paragraphs: list[Paragraph] = []
    text: list[str] = []
    items: list[str] = []
    for line in block:
        item = list_item(line)
        if item is not None:
            paragraphs += _text_paragraphs(text, after_end)
            text = []
            items.append(item)
        elif items and not line.startswith(">"):
            items[-1] += f" {line}"
        else:
            if items:
                paragraphs.append(Paragraph("\n".join(items), "list", after_end))
                items = []
            text.append(line)
    paragraphs += _text_paragraphs(text, after_end)
    if items:
        paragraphs.append(Paragraph("\n".join(items), "list", after_end))
    return paragraphs


def _text_paragraphs(lines: list[str], after_end: bool) -> list[Paragraph]:
    """Join soft-wrapped lines; a line break after a sentence in unwrapped text is a paragraph."""
    if not lines:
        return []
    if all(line.startswith(">") for line in lines):
        return [Paragraph("\n".join(lines), "quote", after_end)]
    width = max(len(line) for line in lines)
    groups = [[lines[0]]]
    for previous, line in pairwise(lines):
        ends_sentence = previous.endswith(_TERMINAL)
        if ends_sentence and (width > 120 or len(previous) < 0.7 * width):
            groups.append([line])
        else:
            groups[-1].append(line)
    return [Paragraph(" ".join(group), "text", after_end) for group in groups]


def expand_inline_about(paragraphs: list[Paragraph]) -> list[Paragraph]:
    """ "About Acme: Acme is ..." → an "About Acme" heading and its paragraph."""
    expanded: list[Paragraph] = []
    for paragraph in paragraphs:
        found = inline_about(paragraph.text) if paragraph.kind == "text" else None
        if found is None:
            expanded.append(paragraph)
        else:
            expanded.append(Paragraph(found[0], "about", paragraph.after_end))
            expanded.append(Paragraph(found[1], "text", paragraph.after_end))
    return expanded


def closing_description_start(paragraphs: list[Paragraph]) -> int | None:
    """Where the closing run of organisation descriptions (and "Learn more" lines) begins."""
    start = len(paragraphs)
    while start > 1:
        paragraph = paragraphs[start - 1]
        fits = is_organisation_description(paragraph.text) or is_boilerplate_companion(
            paragraph.text
        )
        if paragraph.kind != "text" or not fits:
            break
        start -= 1
    while start < len(paragraphs) and not is_organisation_description(paragraphs[start].text):
        start += 1
    return start if start < len(paragraphs) else None


def markdown(paragraphs: list[Paragraph]) -> str:
    """Paragraphs as Markdown: blank lines between blocks, "About" headings in bold."""
    blocks: list[str] = []
    previous = ""
    for paragraph in paragraphs:
        text = f"**{paragraph.text}**" if paragraph.kind == "about" else paragraph.text
        if not text.strip():
            continue
        if paragraph.kind == previous == "list":
            blocks[-1] += f"\n{text}"  # items split by blank lines are still one list
        else:
            blocks.append(text)
        previous = paragraph.kind
    return "\n\n".join(blocks)
