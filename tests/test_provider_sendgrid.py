"""SendgridProvider against SendGrid's documented v3 mail/send request and response shapes.

Substitutions are applied here the way SendGrid applies them (every key replaced by the
personalization's value in the content), so the tests check what each recipient would receive.
"""

from __future__ import annotations

import json
import random
import string
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distro.errors import OutcomeUnknownError, PermanentProviderError, RetryableProviderError
from distro.providers import build_provider
from distro.providers.base import MESSAGE_ID_KEY, OutboundEmail, make_client
from distro.providers.sendgrid import (
    MAX_SUBSTITUTION_BYTES,
    MAX_SUBSTITUTIONS,
    TRACKING_OFF,
    SendgridProvider,
)
from distro.providers.shared_template import plan_groups
from tests.conftest import make_settings

API_KEY = "SG.test-key"
Handler = Callable[[httpx.Request], httpx.Response]

HTML = """<!doctype html>
<html><body style="margin:0;background:#f5f7fa">
<table role="presentation" width="100%"><tr><td style="padding:24px">
<h1 style="font-size:22px;margin:0 0 12px">Harbor City Library opens its newspaper archive</h1>
<p style="margin:0 0 16px">{greeting}</p>
<p style="margin:0 0 16px">The archive holds 2.1 million pages, free to search{at_outlet}.</p>
<p style="margin:0 0 16px">Embargoed until {lift}.</p>
{body}
<p style="font-size:12px;color:#616e7c"><a href="https://distro.example/u/{unsubscribe}" \
style="color:#616e7c">Unsubscribe</a> · <a href="https://distro.example/releases/harbor?t={web}">\
View online</a></p>
</td></tr></table></body></html>
"""
TEXT = """{greeting}

The archive holds 2.1 million pages, free to search{at_outlet}.
Embargoed until {lift}.

Unsubscribe: https://distro.example/u/{unsubscribe}
"""
BODY = "\n".join(
    f'<p style="margin:0 0 16px">Paragraph {i}: what the archive offers reporters.</p>'
    for i in range(30)
)


def token(message_id: int, salt: str) -> str:
    return f"{message_id}.{random.Random(f'{message_id}{salt}').randbytes(16).hex()[:22]}"


def personal(
    message_id: int,
    to: str = "jo@news.example",
    *,
    first_name: str = "",
    outlet: str = "",
    lift: str = "09:00 PST",
    **fields: Any,
) -> OutboundEmail:
    """An email as distro composes it: the same release, personal greeting and signed links."""
    values = {
        "greeting": f"Dear {first_name}," if first_name else "Hello,",
        "at_outlet": f" at {outlet}" if outlet else "",
        "lift": lift,
        "unsubscribe": token(message_id, "u"),
        "web": token(message_id, "w"),
        "body": BODY,
    }
    email: dict[str, Any] = {
        "message_id": message_id,
        "to_email": to,
        "subject": "Harbor City Library opens its newspaper archive",
        "html": HTML.format(**values),
        "text": TEXT.format(**values),
        "from_email": "press@acme.example",
        "from_name": "Acme Press",
        "headers": {
            "List-Unsubscribe": f"<https://distro.example/u/{values['unsubscribe']}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "tag": "release-42",
    }
    email.update(fields)
    return OutboundEmail(**email)


def provider_with(handler: Handler) -> SendgridProvider:
    client = make_client(
        "https://api.sendgrid.com",
        {"Authorization": f"Bearer {API_KEY}", "Accept": "application/json"},
        transport=httpx.MockTransport(handler),
    )
    return SendgridProvider("sendgrid", client)


def accepting(seen: list[httpx.Request]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(202, headers={"X-Message-Id": f"sg-{len(seen)}"})

    return handler


def delivered(request: httpx.Request) -> list[dict[str, Any]]:
    """What each personalization's recipient gets, with SendGrid's substitutions applied."""
    body = json.loads(request.content)
    content = {part["type"]: part["value"] for part in body["content"]}
    out = []
    for personalization in body["personalizations"]:
        substitutions: dict[str, str] = personalization.get("substitutions", {})

        def apply(text: str, substitutions: dict[str, str] = substitutions) -> str:
            for key, value in substitutions.items():
                text = text.replace(key, value)
            return text

        out.append(
            {
                "to": personalization["to"],
                "subject": apply(personalization["subject"]),
                "html": apply(content.get("text/html", "")),
                "text": apply(content.get("text/plain", "")),
                "headers": personalization.get("headers", {}),
                "custom_args": personalization["custom_args"],
            }
        )
    return out


def test_request_follows_sendgrids_mail_send_api() -> None:
    seen: list[httpx.Request] = []
    emails = [
        personal(7, to_name="Jo Reporter", first_name="Jo", reply_to="desk@acme.example"),
        personal(8, to="sam@news.example", reply_to="desk@acme.example"),
    ]
    results = provider_with(accepting(seen)).send_batch(emails)

    (request,) = seen
    assert request.method == "POST"
    assert request.url == "https://api.sendgrid.com/v3/mail/send"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.content)
    assert body["from"] == {"email": "press@acme.example", "name": "Acme Press"}
    assert body["reply_to"] == {"email": "desk@acme.example"}
    assert body["categories"] == ["release-42"]
    assert body["tracking_settings"] == {
        "click_tracking": {"enable": False, "enable_text": False},
        "open_tracking": {"enable": False},
        "subscription_tracking": {"enable": False},
        "ganalytics": {"enable": False},
    }
    assert body["tracking_settings"] == TRACKING_OFF
    assert [part["type"] for part in body["content"]] == ["text/plain", "text/html"]
    first, second = body["personalizations"]
    assert first["to"] == [{"email": "jo@news.example", "name": "Jo Reporter"}]
    assert second["to"] == [{"email": "sam@news.example"}]
    assert first["subject"] == "Harbor City Library opens its newspaper archive"
    assert first["custom_args"] == {MESSAGE_ID_KEY: "7"}
    assert second["custom_args"] == {MESSAGE_ID_KEY: "8"}
    for personalization, email in zip(body["personalizations"], emails, strict=True):
        assert personalization["headers"] == {
            "List-Unsubscribe": email.headers["List-Unsubscribe"],
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        }
    assert [(r.message_id, r.accepted, r.provider_message_id) for r in results] == [
        (7, True, "sg-1"),
        (8, True, "sg-1"),
    ]


def test_each_recipient_gets_exactly_their_own_email_from_one_request() -> None:
    seen: list[httpx.Request] = []
    names = ["Amara", "", "Zoë", "O'Brien & Sons", "Lee"]
    outlets = ["Harbor Herald", "", "The Times"]
    emails = [
        personal(
            100 + i,
            f"journalist{i}@news.example",
            first_name=names[i % len(names)],
            outlet=outlets[i % len(outlets)],
            lift=["09:00 PST", "18:00 CET"][i % 2],
        )
        for i in range(300)
    ]
    results = provider_with(accepting(seen)).send_batch(emails)

    (request,) = seen
    received = delivered(request)
    assert len(received) == len(emails)
    for got, email in zip(received, emails, strict=True):
        assert got["to"][0]["email"] == email.to_email
        assert got["html"] == email.html
        assert got["text"] == email.text
        assert got["subject"] == email.subject
        assert got["custom_args"] == {MESSAGE_ID_KEY: str(email.message_id)}
    body = json.loads(request.content)
    shared = "".join(part["value"] for part in body["content"])
    assert "Amara" not in shared
    assert token(100, "u") not in shared
    assert "Paragraph 29" in shared  # the release itself travels once
    for personalization in body["personalizations"]:
        substitutions = personalization["substitutions"]
        assert len(substitutions) <= MAX_SUBSTITUTIONS
        size = sum(len(k.encode()) + len(v.encode()) for k, v in substitutions.items())
        assert size < 1000
    assert all(r.accepted and r.provider_message_id == "sg-1" for r in results)


def test_recipients_with_extra_lines_still_share_one_request() -> None:
    # Different line counts take the real diff rather than the line-by-line comparison.
    seen: list[httpx.Request] = []
    notice = '<p style="margin:0 0 16px">Advance copy under embargo: please do not publish.</p>\n'
    emails = []
    for i in range(60):
        email = personal(i, f"r{i}@news.example", first_name=f"Name{i}")
        if i % 3 == 0:
            email = email._replace(html=email.html.replace("<h1", notice + "<h1", 1))
        if i % 4 == 0:
            email = email._replace(text=email.text + f"\nYour desk: desk {i}\n")
        emails.append(email)
    provider_with(accepting(seen)).send_batch(emails)

    (request,) = seen
    for got, email in zip(delivered(request), emails, strict=True):
        assert got["html"] == email.html
        assert got["text"] == email.text
    assert "Name1," not in json.dumps(json.loads(request.content)["content"])


def test_emails_too_different_to_share_content_go_in_separate_requests() -> None:
    seen: list[httpx.Request] = []
    noise = random.Random(5)

    def unique_body() -> str:
        return "".join(noise.choices(string.ascii_letters + " \n", k=4 * MAX_SUBSTITUTION_BYTES))

    emails = [
        personal(1, "a@news.example", html=f"<p>{unique_body()}</p>"),
        personal(2, "b@news.example"),
        personal(3, "c@news.example", html=f"<p>{unique_body()}</p>"),
        personal(4, "d@news.example", first_name="Dee"),
    ]
    results = provider_with(accepting(seen)).send_batch(emails)

    received = {got["custom_args"][MESSAGE_ID_KEY]: got for r in seen for got in delivered(r)}
    assert sorted(received) == ["1", "2", "3", "4"]
    for email in emails:
        assert received[str(email.message_id)]["html"] == email.html
        assert received[str(email.message_id)]["text"] == email.text
    assert 2 <= len(seen) <= 3
    assert all(r.accepted for r in results)
    by_request = {r.provider_message_id for r in results}
    assert by_request == {f"sg-{n}" for n in range(1, len(seen) + 1)}


def test_different_senders_go_in_separate_requests() -> None:
    seen: list[httpx.Request] = []
    emails = [personal(1, "a@news.example"), personal(2, "b@news.example", tag="release-43")]
    provider_with(accepting(seen)).send_batch(emails)

    assert [json.loads(r.content)["categories"] for r in seen] == [["release-42"], ["release-43"]]


def test_a_repeated_address_waits_for_a_later_request() -> None:
    seen: list[httpx.Request] = []
    emails = [
        personal(1, "jo@news.example"),
        personal(2, "sam@news.example"),
        personal(3, "Jo@News.example"),
    ]
    results = provider_with(accepting(seen)).send_batch(emails)

    (request,) = seen
    addresses = [p["to"][0]["email"] for p in json.loads(request.content)["personalizations"]]
    assert addresses == ["jo@news.example", "sam@news.example"]
    assert [(r.message_id, r.accepted, r.retryable) for r in results] == [
        (1, True, False),
        (2, True, False),
        (3, False, True),
    ]
    assert results[2].error is not None
    assert "Jo@News.example" in results[2].error


def test_names_lose_characters_sendgrid_refuses() -> None:
    seen: list[httpx.Request] = []
    provider_with(accepting(seen)).send_batch([personal(1, to_name="Okafor, Amara; PhD")])

    (personalization,) = json.loads(seen[0].content)["personalizations"]
    assert personalization["to"] == [{"email": "jo@news.example", "name": "Okafor Amara PhD"}]


def test_bad_request_is_permanent_and_names_the_fields() -> None:
    body = {
        "errors": [
            {
                "message": "The from email does not contain a valid address.",
                "field": "from.email",
                "help": "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html",
            },
            {"message": "Bad Request", "field": None},
        ]
    }
    provider = provider_with(lambda request: httpx.Response(400, json=body))
    with pytest.raises(PermanentProviderError) as caught:
        provider.send_batch([personal(1)])
    assert caught.value.status_code == 400
    assert "from.email: The from email does not contain a valid address." in str(caught.value)
    assert not isinstance(caught.value, RetryableProviderError)


def test_payload_too_large_is_permanent() -> None:
    provider = provider_with(lambda request: httpx.Response(413, text="Payload Too Large"))
    with pytest.raises(PermanentProviderError) as caught:
        provider.send_batch([personal(1)])
    assert caught.value.status_code == 413
    assert "Payload Too Large" in str(caught.value)


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [(429, {"Retry-After": "7"}, 7.0), (503, {"Retry-After": "30"}, 30.0), (500, {}, None)],
)
def test_rate_limit_and_server_errors_are_retryable(
    status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    body = {"errors": [{"field": None, "message": "try later"}]}
    provider = provider_with(lambda request: httpx.Response(status, json=body, headers=headers))
    with pytest.raises(RetryableProviderError) as caught:
        provider.send_batch([personal(1)])
    assert caught.value.status_code == status
    assert caught.value.retry_after == retry_after


def test_rate_limit_reset_header_sets_the_wait() -> None:
    reset = int(time.time()) + 30
    headers = {
        "X-RateLimit-Limit": "600",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": str(reset),
    }
    provider = provider_with(lambda request: httpx.Response(429, headers=headers))
    with pytest.raises(RetryableProviderError) as caught:
        provider.send_batch([personal(1)])
    assert caught.value.retry_after is not None
    assert 25 <= caught.value.retry_after <= 31
    assert provider.resume_at > time.monotonic() + 20


def test_bad_key_is_permanent() -> None:
    body = {"errors": [{"field": None, "message": "The provided authorization grant is invalid"}]}
    provider = provider_with(lambda request: httpx.Response(401, json=body))
    with pytest.raises(PermanentProviderError) as caught:
        provider.send_batch([personal(1)])
    assert caught.value.status_code == 401
    assert not isinstance(caught.value, RetryableProviderError)


def test_read_timeout_means_outcome_unknown() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(OutcomeUnknownError):
        provider_with(handler).send_batch([personal(1)])


def test_connect_error_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RetryableProviderError) as caught:
        provider_with(handler).send_batch([personal(1)])
    assert caught.value.status_code is None


def test_accepted_without_a_message_id_header_is_still_accepted() -> None:
    # 202 is SendGrid's whole answer; events still carry our id in custom_args.
    provider = provider_with(lambda request: httpx.Response(202, text="not json"))
    (result,) = provider.send_batch([personal(1)])
    assert result.accepted
    assert result.provider_message_id is None


def test_a_later_request_failing_leaves_earlier_results_alone() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1:
            return httpx.Response(202, headers={"X-Message-Id": "sg-1"})
        return httpx.Response(400, json={"errors": [{"field": "content", "message": "bad"}]})

    emails = [personal(1, "a@news.example"), personal(2, "b@news.example", tag="other")]
    results = provider_with(handler).send_batch(emails)

    assert len(seen) == 2
    assert (results[0].accepted, results[0].provider_message_id) == (True, "sg-1")
    assert not results[1].accepted
    assert not results[1].retryable
    assert results[1].error is not None
    assert "content: bad" in results[1].error


def test_a_lost_answer_after_an_accepted_request_is_unknown_for_its_emails_only() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 2:
            raise httpx.ReadTimeout("timed out", request=request)
        return httpx.Response(202, headers={"X-Message-Id": f"sg-{len(seen)}"})

    emails = [personal(1, "a@news.example"), personal(2, "b@news.example", tag="other")]
    results = provider_with(handler).send_batch(emails)

    assert results[0].accepted
    assert (results[1].accepted, results[1].unknown, results[1].retryable) == (False, True, False)


def test_after_a_rate_limit_later_requests_are_not_sent() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(429, headers={"Retry-After": "9"})

    emails = [personal(1, "a@news.example"), personal(2, "b@news.example", tag="other")]
    with pytest.raises(RetryableProviderError) as caught:
        provider_with(handler).send_batch(emails)
    assert caught.value.retry_after == 9.0
    assert len(seen) == 1


def test_more_than_1000_is_refused_before_sending() -> None:
    seen: list[httpx.Request] = []
    emails = [personal(i, f"r{i}@news.example") for i in range(1001)]
    with pytest.raises(ValueError, match="1000"):
        provider_with(accepting(seen)).send_batch(emails)
    assert seen == []


def test_concurrent_batches_from_several_threads_keep_their_own_results() -> None:
    lock = threading.Lock()
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        ids = [p["custom_args"][MESSAGE_ID_KEY] for p in body["personalizations"]]
        with lock:
            calls.append(len(ids))
        time.sleep(0.005)
        return httpx.Response(202, headers={"X-Message-Id": f"sg-{ids[0]}-{ids[-1]}"})

    provider = provider_with(handler)
    batches = [
        [personal(t * 100 + i, f"r{t}-{i}@news.example", first_name=f"N{i}") for i in range(25)]
        for t in range(8)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(provider.send_batch, batches))

    assert sorted(calls) == [25] * 8
    for t, results in enumerate(answers):
        assert [r.message_id for r in results] == [t * 100 + i for i in range(25)]
        assert {r.provider_message_id for r in results} == {f"sg-{t * 100}-{t * 100 + 24}"}


def test_built_from_config_with_an_eu_base_url() -> None:
    seen: list[httpx.Request] = []
    settings_ = make_settings(
        "sqlite://",
        providers={
            "sg": {
                "type": "sendgrid",
                "api_key": API_KEY,
                "base_url": "https://api.eu.sendgrid.com",
            }
        },
    )
    provider = build_provider(settings_, "sg", transport=httpx.MockTransport(accepting(seen)))
    try:
        assert isinstance(provider, SendgridProvider)
        (result,) = provider.send_batch([personal(1)])
    finally:
        provider.close()
    assert result.accepted
    assert seen[0].url == "https://api.eu.sendgrid.com/v3/mail/send"
    assert seen[0].headers["Authorization"] == f"Bearer {API_KEY}"


# --- the shared templates behind substitutions (also used by Mailgun) -------------------------

_pieces = st.text(alphabet="ab<>\n\0é-", max_size=12)


@st.composite
def related_texts(draw: st.DrawFn) -> list[tuple[str, str]]:
    """Emails from one template with per-email fills, plus some unrelated ones."""
    literals = draw(st.lists(_pieces, min_size=1, max_size=6))
    count = draw(st.integers(min_value=1, max_value=8))
    emails = []
    for _ in range(count):
        if draw(st.booleans()):
            fills = [draw(_pieces) for _ in literals[1:]]
            text = literals[0] + "".join(
                f + lit for f, lit in zip(fills, literals[1:], strict=True)
            )
        else:
            text = draw(st.text(max_size=40))
        emails.append((text, draw(_pieces)))
    return emails


@settings(max_examples=300, deadline=None)
@given(
    fields=related_texts(),
    max_bytes=st.integers(min_value=0, max_value=60),
    max_slots=st.integers(min_value=0, max_value=6),
)
def test_plan_groups_rebuilds_every_email_within_the_limits(
    fields: list[tuple[str, str]], max_bytes: int, max_slots: int
) -> None:
    groups = plan_groups(fields, max_bytes=max_bytes, max_slots=max_slots, key_bytes=2)

    assert sorted(m for g in groups for m in g.members) == list(range(len(fields)))
    for group in groups:
        slots = sum(t.slots for t in group.templates)
        for position, member in enumerate(group.members):
            rebuilt = tuple(t.rebuild(position) for t in group.templates)
            assert rebuilt == fields[member]
            size = slots * 2 + sum(
                len(v.encode()) for t in group.templates for v in t.values[position]
            )
            if len(group.members) > 1:
                assert slots <= max_slots
                assert size <= max_bytes
            else:
                assert slots == 0


def test_plan_groups_keeps_one_group_for_emails_from_one_template() -> None:
    emails = [
        personal(i, first_name=f"Name{i}", outlet="Herald" if i % 2 else "") for i in range(50)
    ]
    (group,) = plan_groups([(e.text, e.html) for e in emails], max_bytes=9000, max_slots=100)
    assert group.members == tuple(range(50))
    assert all(t.slots <= 6 for t in group.templates)
