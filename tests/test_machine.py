"""Machine opens and clicks, told from people's by user agent (real strings, as sent by proxies,
scanners, scripts and mail clients) and by how soon after delivery they came."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from distro.tracking.machine import HUMAN, classify

DELIVERED = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)
LATER = DELIVERED + timedelta(hours=2)

MACHINES = [
    pytest.param("Mozilla/5.0", "Apple Mail Privacy Protection", id="apple-mpp"),
    pytest.param("", "no user agent", id="empty"),
    pytest.param(None, "no user agent", id="none"),
    pytest.param("   ", "no user agent", id="blank"),
    pytest.param(
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/120.0.0.0 Safari/537.36 Microsoft Office 365 SafeLinks",
        "Safe Links",
        id="safe-links",
    ),
    pytest.param("Barracuda Sentinel (EE)", "Barracuda", id="barracuda"),
    pytest.param("Mozilla/5.0 (compatible; Mimecast URL Protect)", "Mimecast", id="mimecast"),
    pytest.param(
        "Mozilla/5.0 (compatible; Proofpoint URL Defense/1.0)", "Proofpoint", id="proofpoint"
    ),
    pytest.param(
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "HeadlessChrome/119.0.6045.105 Safari/537.36",
        "headless",
        id="headless-chrome",
    ),
    pytest.param("curl/8.5.0", "curl", id="curl"),
    pytest.param("Wget/1.21.4", "wget", id="wget"),
    pytest.param("python-requests/2.31.0", "python-requests", id="requests"),
    pytest.param("Python-urllib/3.11", "urllib", id="urllib"),
    pytest.param("python-httpx/0.27.0", "httpx", id="httpx"),
    pytest.param("Go-http-client/1.1", "Go", id="go"),
    pytest.param("okhttp/4.12.0", "okhttp", id="okhttp"),
    pytest.param("Java/17.0.9", "Java", id="java"),
    pytest.param(
        "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
        "Facebook",
        id="facebook-preview",
    ),
    pytest.param("Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "Slack", id="slack"),
    pytest.param(
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "robot",
        id="googlebot",
    ),
]


@pytest.mark.parametrize(("agent", "reason"), MACHINES)
def test_machines_by_user_agent(agent: str | None, reason: str) -> None:
    verdict = classify(agent, LATER, DELIVERED, 10)
    assert verdict.machine
    assert reason in verdict.reason


PEOPLE = [
    # Apple Mail on a Mac, privacy protection off: the full WebKit string.
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)",
    # iPhone Mail.
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_2 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148",
    # Gmail's image proxy fetches when a person opens the mail.
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
    # Yahoo Mail's proxy, likewise.
    "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
    # Outlook for Windows, and Outlook for iOS.
    "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17126; Pro)",
    "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
    "Outlook-iOS/709.2226530.prod.iphone (4.2335.0)",
    # Thunderbird, and a person clicking in Chrome and in Firefox.
    "Mozilla/5.0 (X11; Linux x86_64; rv:115.0) Gecko/20100101 Thunderbird/115.6.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.2; rv:121.0) Gecko/20100101 Firefox/121.0",
]


@pytest.mark.parametrize("agent", PEOPLE)
def test_people_by_user_agent(agent: str) -> None:
    assert classify(agent, LATER, DELIVERED, 10) == HUMAN


@pytest.mark.parametrize(
    ("after", "machine"),
    [
        (timedelta(seconds=-30), True),  # before our delivery report arrived: surely fast
        (timedelta(seconds=0), True),
        (timedelta(seconds=9.9), True),
        (timedelta(seconds=10), False),
        (timedelta(minutes=5), False),
    ],
)
def test_within_seconds_of_delivery_is_a_machine(after: timedelta, machine: bool) -> None:
    person = PEOPLE[0]
    verdict = classify(person, DELIVERED + after, DELIVERED, 10)
    assert verdict.machine is machine
    if machine:
        assert "after delivery" in verdict.reason


def test_timing_rule_needs_a_delivery_moment_and_follows_the_setting() -> None:
    person = PEOPLE[0]
    assert classify(person, DELIVERED, None, 10) == HUMAN
    assert classify(person, DELIVERED + timedelta(seconds=30), DELIVERED, 60).machine
    assert classify(person, DELIVERED + timedelta(seconds=1), DELIVERED, 0) == HUMAN
