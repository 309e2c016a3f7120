"""Notices a website prints around every page: hotlines, "call us" banners, cookie and
newsletter prompts. They are about the site, not the release, so they are never its headline.

Short phone lines and the common furniture are already ``text_patterns.is_debris`` or dropped
as phone lines; these are the longer banners that would otherwise read as a headline.
"""

from __future__ import annotations

import re

from distro.releases.import_contacts import has_phone

_BANNER_RE = re.compile(
    r"\b(?:hotline|helpline|help\s+line|crisis\s+line|emergency\s+(?:line|number|response)"
    r"|call\s+(?:us|now|today|toll[-\s]free)|text\s+us|24/7|24\s+hours)\b",
    re.I,
)
_PROMPT_RE = re.compile(
    r"^(?:sign\s+up\s+for\s+our\s+newsletter|subscribe\s+to\s+our\s+newsletter"
    r"|this\s+(?:web)?site\s+uses\s+cookies|we\s+use\s+cookies|donate\s+now|donate\s+today)\b",
    re.I,
)
_MAX_WORDS = 30


def is_site_notice(line: str) -> bool:
    """ "24/7 Emergency Hotline: call us at 909-361-4588 if ICE comes to your door"."""
    words = len(line.split())
    if words > _MAX_WORDS:
        return False
    if _PROMPT_RE.match(line.strip("*_# ")):
        return True
    return bool(_BANNER_RE.search(line)) and has_phone(line)
