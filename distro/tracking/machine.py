"""Telling machine opens and clicks from people's: a pure classifier, no I/O.

A machine open or click is one no person caused: Apple Mail Privacy Protection fetching every
image when mail arrives, a security gateway (Microsoft Safe Links, Mimecast, Proofpoint,
Barracuda ...) following every link to scan it, or a script. Two signs, either enough:

- the user agent names such a fetcher, or is none at all (Apple's proxy sends a bare
  ``Mozilla/5.0``);
- the hit came within ``machine_seconds`` of delivery (of the hand-over while no delivery report
  has come): people do not read that fast, proxies and scanners do.

Gmail's and Yahoo's image proxies are not machines by user agent: they fetch the pixel when a
person opens the mail (their user agent hides who), so their opens are people's opens, as
every provider counts them. A prefetch by them at delivery is caught by the timing rule.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple

APPLE_PROXY_AGENT = "Mozilla/5.0"  # exactly this, nothing after: Apple's privacy proxy

# Lower-case fragments of user agents and what they are; first match wins.
MACHINE_AGENTS: tuple[tuple[str, str], ...] = (
    ("safelinks", "Microsoft Safe Links scanner"),
    ("microsoft-urlanalyzer", "Microsoft Defender URL scanner"),
    ("o365linkprotection", "Microsoft Safe Links scanner"),
    ("office 365", "Microsoft 365 link scanner"),
    ("barracuda", "Barracuda security scanner"),
    ("mimecast", "Mimecast security scanner"),
    ("proofpoint", "Proofpoint security scanner"),
    ("ppurldefense", "Proofpoint URL Defense scanner"),
    ("forcepoint", "Forcepoint security scanner"),
    ("ironport", "Cisco IronPort security scanner"),
    ("symantec", "Symantec security scanner"),
    ("trendmicro", "Trend Micro security scanner"),
    ("sophos", "Sophos security scanner"),
    ("fortiguard", "Fortinet security scanner"),
    ("headlesschrome", "headless browser"),
    ("phantomjs", "headless browser"),
    ("curl/", "command-line client (curl)"),
    ("wget/", "command-line client (wget)"),
    ("python-requests", "script (python-requests)"),
    ("python-urllib", "script (Python urllib)"),
    ("python-httpx", "script (httpx)"),
    ("aiohttp", "script (aiohttp)"),
    ("go-http-client", "script (Go)"),
    ("okhttp", "script (okhttp)"),
    ("java/", "script (Java)"),
    ("apache-httpclient", "script (Apache HttpClient)"),
    ("libwww-perl", "script (Perl)"),
    ("node-fetch", "script (node-fetch)"),
    ("axios/", "script (axios)"),
    ("facebookexternalhit", "link preview (Facebook)"),
    ("slackbot", "link preview (Slack)"),
    ("bot", "robot"),
    ("crawler", "robot"),
    ("spider", "robot"),
    ("scanner", "scanner"),
)


class Verdict(NamedTuple):
    machine: bool
    reason: str  # empty for a person


HUMAN = Verdict(False, "")


def classify(
    user_agent: str | None,
    event_at: datetime,
    delivered_at: datetime | None,
    machine_seconds: float,
) -> Verdict:
    """Whether an open or click at ``event_at`` was a machine's, and why.

    ``delivered_at`` is the message's delivery (or hand-over) moment; None skips the timing rule.
    """
    agent = (user_agent or "").strip()
    if not agent:
        return Verdict(True, "no user agent")
    if agent == APPLE_PROXY_AGENT:
        return Verdict(True, "Apple Mail Privacy Protection proxy")
    lowered = agent.lower()
    for fragment, what in MACHINE_AGENTS:
        if fragment in lowered:
            return Verdict(True, what)
    if delivered_at is not None:
        seconds = (event_at - delivered_at).total_seconds()
        if seconds < machine_seconds:
            return Verdict(True, f"{max(seconds, 0):.0f} s after delivery")
    return HUMAN
