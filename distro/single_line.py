"""Text that has to stay on one line: email header values built from data (display names,
subjects) and the contact fields that feed them (names, outlet, title ...).

A CR or LF in a header value ends the header early: a contact named
``"Eve\\r\\nBcc: someone@example.com"`` would add a header of its own, and Python's email
package refuses such a value outright, so a preview fails and a send loses the message (or, with
some providers, the whole batch). Other control characters (NUL, ESC, the C1 range) and
Unicode's line and paragraph separators have no business in a header either and some providers
refuse them. ``single_line`` turns each run of them, with the spaces around it, into one space.
"""

from __future__ import annotations

import re

# C0 and C1 controls (CR, LF, tab, NUL ...), DEL, and the Unicode line and paragraph separators;
# a run of them takes the whitespace around it along.
_BREAKS = "\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029"
_BREAK_RUN = re.compile(f"\\s*[{_BREAKS}][\\s{_BREAKS}]*")


def single_line(text: str) -> str:
    """``text`` with each run of control characters or line breaks made one space (none at
    either end); text without any comes back as it is."""
    if text.isprintable():  # the usual case, checked in C
        return text
    return " ".join(part for part in _BREAK_RUN.split(text) if part)
