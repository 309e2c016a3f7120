"""MailgunProvider against Mailgun's documented messages API (multipart form, batch sending).

Recipient variables are filled in here the way Mailgun fills them in (``%recipient.KEY%``
replaced by that recipient's value, unescaped), so the tests check what each recipient gets.
"""

from __future__ import annotations

import base64
import email.utils
import json
import random
import re
import string
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from distro.errors import (
    ConfigError,
    OutcomeUnknownError,
    PermanentProviderError,
    RetryableProviderError,
)
from distro.providers import build_provider
from distro.providers.base import MESSAGE_ID_KEY, make_client
from distro.providers.mailgun import MailgunProvider
from tests.conftest import make_settings
from tests.test_provider_sendgrid import personal, token

API_KEY = "key-3ax6xnjp29jd6fds4gc373sgvjxteol0"
DOMAIN = "mg.acme.example"
BASIC = "Basic " + base64.b64encode(f"api:{API_KEY}".encode()).decode()
QUEUED = {"id": "<20240501100000.1.ABC@mg.acme.example>", "message": "Queued. Thank you."}
Handler = Callable[[httpx.Request], httpx.Response]
Form = list[tuple[str, str]]


def provider_with(handler: Handler) -> MailgunProvider:
    client = make_client(
        "https://api.mailgun.net",
        {"Authorization": BASIC, "Accept": "application/json"},
        transport=httpx.MockTransport(handler),
    )
    return MailgunProvider("mailgun", client, domain=DOMAIN)


def form_of(request: httpx.Request) -> Form:
    """The multipart/form-data fields of ``request``, in order."""
    content_type = request.headers["Content-Type"]
    assert content_type.startswith("multipart/form-data; boundary=")
    boundary = content_type.split("boundary=", 1)[1].encode()
    fields = []
    for part in request.content.split(b"--" + boundary)[1:-1]:
        assert part.startswith(b"\r\n")
        assert part.endswith(b"\r\n")
        head, _, value = part[2:-2].partition(b"\r\n\r\n")
        name = re.search(rb'name="([^"]*)"', head)
        assert name is not None
        fields.append((name.group(1).decode(), value.decode()))
    return fields


def one(form: Form, name: str) -> str:
    (value,) = [v for k, v in form if k == name]
    return value


def accepting(seen: list[Form]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(form_of(request))
        return httpx.Response(200, json={**QUEUED, "id": f"<call-{len(seen)}@{DOMAIN}>"})

    return handler


def delivered(form: Form) -> list[dict[str, Any]]:
    """The message each ``to`` gets, with recipient variables filled in as Mailgun does."""
    fields = dict(form)
    variables = json.loads(fields.get("recipient-variables", "{}"))
    out = []
    for recipient in [v for k, v in form if k == "to"]:
        own = variables.get(email.utils.parseaddr(recipient)[1], {})

        def fill(text: str, own: dict[str, str] = own) -> str:
            return re.sub(r"%recipient\.(\w+)%", lambda m: own[m.group(1)], text)

        out.append(
            {
                "to": recipient,
                "subject": fill(fields["subject"]),
                "html": fill(fields.get("html", "")),
                "text": fill(fields.get("text", "")),
                "headers": {k[2:]: fill(v) for k, v in form if k.startswith("h:")},
                "user-variables": {k[2:]: fill(v) for k, v in form if k.startswith("v:")},
            }
        )
    return out


def test_request_follows_mailguns_batch_sending_api() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=QUEUED)

    emails = [
        personal(7, to_name="Jo Reporter", first_name="Jo", reply_to="desk@acme.example"),
        personal(8, to="sam@news.example", reply_to="desk@acme.example"),
    ]
    results = provider_with(handler).send_batch(emails)

    (request,) = seen
    assert request.method == "POST"
    assert request.url == f"https://api.mailgun.net/v3/{DOMAIN}/messages"
    assert request.headers["Authorization"] == BASIC
    form = form_of(request)
    assert one(form, "from") == "Acme Press <press@acme.example>"
    assert [v for k, v in form if k == "to"] == [
        "Jo Reporter <jo@news.example>",
        "sam@news.example",
    ]
    assert one(form, "subject") == "Harbor City Library opens its newspaper archive"
    assert one(form, "h:Reply-To") == "desk@acme.example"
    assert one(form, "h:List-Unsubscribe-Post") == "List-Unsubscribe=One-Click"
    assert one(form, "h:List-Unsubscribe").startswith("<https://distro.example/u/")
    assert "%recipient." in one(form, "h:List-Unsubscribe")
    assert one(form, f"v:{MESSAGE_ID_KEY}") == f"%recipient.{MESSAGE_ID_KEY}%"
    assert one(form, "o:tag") == "release-42"
    assert one(form, "o:tracking") == "no"
    assert one(form, "o:tracking-clicks") == "no"
    assert one(form, "o:tracking-opens") == "no"
    variables = json.loads(one(form, "recipient-variables"))
    assert set(variables) == {"jo@news.example", "sam@news.example"}
    assert variables["jo@news.example"][MESSAGE_ID_KEY] == "7"
    assert variables["sam@news.example"][MESSAGE_ID_KEY] == "8"
    assert [(r.message_id, r.accepted, r.provider_message_id) for r in results] == [
        (7, True, "20240501100000.1.ABC@mg.acme.example"),
        (8, True, "20240501100000.1.ABC@mg.acme.example"),
    ]


def test_each_recipient_gets_exactly_their_own_email_from_one_call() -> None:
    seen: list[Form] = []
    emails = [
        personal(
            100 + i,
            f"journalist{i}@news.example",
            first_name=["Amara", "", "Zoë", "O'Brien & Sons"][i % 4],
            outlet=["Harbor Herald", ""][i % 2],
            subject=f"Archive news for {['Harbor Herald', 'you'][i % 2]}",
            to_name=f"Reporter {i}",
        )
        for i in range(200)
    ]
    results = provider_with(accepting(seen)).send_batch(emails)

    (form,) = seen
    received = delivered(form)
    assert len(received) == len(emails)
    for got, sent in zip(received, emails, strict=True):
        assert email.utils.parseaddr(got["to"])[1] == sent.to_email
        assert got["subject"] == sent.subject
        assert got["html"] == sent.html
        assert got["text"] == sent.text
        assert got["headers"]["List-Unsubscribe"] == sent.headers["List-Unsubscribe"]
        assert got["headers"]["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert got["user-variables"] == {MESSAGE_ID_KEY: str(sent.message_id)}
    assert "Amara" not in one(form, "html")
    assert token(100, "u") not in one(form, "html")
    assert "Paragraph 29" in one(form, "html")  # the release itself travels once
    variables = json.loads(one(form, "recipient-variables"))
    assert max(len(json.dumps(v)) for v in variables.values()) < 1000
    assert all(r.accepted and r.provider_message_id == f"call-1@{DOMAIN}" for r in results)


def test_subjects_and_bodies_of_different_lengths_still_share_one_call() -> None:
    seen: list[Form] = []
    emails = [
        personal(
            i,
            f"r{i}@news.example",
            subject="Embargoed: archive opens" if i % 2 else "Archive opens",
            html=personal(i).html + ("<p>Advance copy</p>\n" if i % 3 == 0 else ""),
        )
        for i in range(30)
    ]
    provider_with(accepting(seen)).send_batch(emails)

    (form,) = seen
    for got, sent in zip(delivered(form), emails, strict=True):
        assert (got["subject"], got["html"], got["text"]) == (sent.subject, sent.html, sent.text)


def test_emails_too_different_to_share_a_body_go_in_separate_calls() -> None:
    seen: list[Form] = []
    noise = random.Random(3)
    unique = "".join(noise.choices(string.ascii_letters + " \n", k=40_000))
    emails = [personal(1, "a@news.example", html=unique), personal(2, "b@news.example")]
    results = provider_with(accepting(seen)).send_batch(emails)

    assert len(seen) == 2
    received = [got for form in seen for got in delivered(form)]
    assert [got["html"] for got in received] == [e.html for e in emails]
    assert [r.provider_message_id for r in results] == [f"call-1@{DOMAIN}", f"call-2@{DOMAIN}"]


def test_different_header_names_go_in_separate_calls() -> None:
    seen: list[Form] = []
    test_copy = personal(2, "b@news.example")
    test_copy = personal(2, "b@news.example", headers={**test_copy.headers, "X-Distro-Test": "yes"})
    provider_with(accepting(seen)).send_batch([personal(1, "a@news.example"), test_copy])

    assert len(seen) == 2
    assert [dict(form).get("h:X-Distro-Test") for form in seen] == [None, "yes"]


def test_a_repeated_address_waits_for_a_later_call() -> None:
    seen: list[Form] = []
    emails = [personal(1, "jo@news.example"), personal(2, "JO@news.example")]
    results = provider_with(accepting(seen)).send_batch(emails)

    (form,) = seen
    assert [v for k, v in form if k == "to"] == ["jo@news.example"]
    assert (results[0].accepted, results[1].accepted, results[1].retryable) == (True, False, True)


def test_an_email_containing_mailguns_placeholder_goes_alone_and_untouched() -> None:
    seen: list[Form] = []
    odd = personal(2, "b@news.example", text="Write %recipient.name% in your template")
    provider_with(accepting(seen)).send_batch([personal(1, "a@news.example"), odd])

    assert len(seen) == 2
    alone = seen[1]
    assert "recipient-variables" not in dict(alone)
    assert one(alone, "text") == odd.text
    assert one(alone, f"v:{MESSAGE_ID_KEY}") == "2"
    assert one(alone, "h:List-Unsubscribe") == odd.headers["List-Unsubscribe"]


def test_bad_request_is_permanent_with_mailguns_message() -> None:
    body = {"message": "'to' parameter is not a valid address. please check documentation"}
    provider = provider_with(lambda request: httpx.Response(400, json=body))
    with pytest.raises(PermanentProviderError) as caught:
        provider.send_batch([personal(1)])
    assert caught.value.status_code == 400
    assert "'to' parameter is not a valid address" in str(caught.value)
    assert not isinstance(caught.value, RetryableProviderError)


def test_bad_key_is_permanent() -> None:
    provider = provider_with(lambda request: httpx.Response(401, text="Forbidden"))
    with pytest.raises(PermanentProviderError) as caught:
        provider.send_batch([personal(1)])
    assert caught.value.status_code == 401
    assert not isinstance(caught.value, RetryableProviderError)


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [(429, {"Retry-After": "12"}, 12.0), (503, {}, None), (500, {"Retry-After": "3"}, 3.0)],
)
def test_rate_limit_and_server_errors_are_retryable(
    status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    body = {"message": "try later"}
    provider = provider_with(lambda request: httpx.Response(status, json=body, headers=headers))
    with pytest.raises(RetryableProviderError) as caught:
        provider.send_batch([personal(1)])
    assert caught.value.status_code == status
    assert caught.value.retry_after == retry_after


def test_read_timeout_means_outcome_unknown() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("peer closed connection", request=request)

    with pytest.raises(OutcomeUnknownError):
        provider_with(handler).send_batch([personal(1)])


def test_connect_error_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectTimeout("timed out", request=request)

    with pytest.raises(RetryableProviderError):
        provider_with(handler).send_batch([personal(1)])


def test_success_without_an_id_is_an_unknown_outcome() -> None:
    provider = provider_with(lambda request: httpx.Response(200, text="<html>proxy</html>"))
    results = provider.send_batch([personal(1, "a@news.example"), personal(2, "b@news.example")])
    assert [(r.accepted, r.unknown, r.retryable) for r in results] == [(False, True, False)] * 2
    assert results[0].error is not None
    assert "without a message id" in results[0].error


def test_mailguns_greeting_for_a_wrong_path_is_permanent() -> None:
    provider = provider_with(lambda request: httpx.Response(200, text="Mailgun Magnificent API"))
    with pytest.raises(PermanentProviderError, match="not Mailgun's messages API"):
        provider.send_batch([personal(1)])


def test_more_than_1000_is_refused_before_sending() -> None:
    seen: list[Form] = []
    emails = [personal(i, f"r{i}@news.example") for i in range(1001)]
    with pytest.raises(ValueError, match="1000"):
        provider_with(accepting(seen)).send_batch(emails)
    assert seen == []


def test_concurrent_batches_from_several_threads_keep_their_own_results() -> None:
    lock = threading.Lock()
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        variables = json.loads(one(form_of(request), "recipient-variables"))
        ids = sorted(int(v[MESSAGE_ID_KEY]) for v in variables.values())
        with lock:
            calls.append(len(ids))
        time.sleep(0.005)
        return httpx.Response(200, json={**QUEUED, "id": f"<{ids[0]}-{ids[-1]}@{DOMAIN}>"})

    provider = provider_with(handler)
    batches = [
        [personal(t * 100 + i, f"r{t}-{i}@news.example", first_name=f"N{i}") for i in range(20)]
        for t in range(8)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(provider.send_batch, batches))

    assert sorted(calls) == [20] * 8
    for t, results in enumerate(answers):
        assert [r.message_id for r in results] == [t * 100 + i for i in range(20)]
        assert {r.provider_message_id for r in results} == {f"{t * 100}-{t * 100 + 19}@{DOMAIN}"}


def test_built_from_config_for_the_eu_region() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=QUEUED)

    settings_ = make_settings(
        "sqlite://",
        providers={
            "mg": {
                "type": "mailgun",
                "api_key": API_KEY,
                "domain": DOMAIN,
                "base_url": "https://api.eu.mailgun.net",
            }
        },
    )
    provider = build_provider(settings_, "mg", transport=httpx.MockTransport(handler))
    try:
        assert isinstance(provider, MailgunProvider)
        (result,) = provider.send_batch([personal(1)])
    finally:
        provider.close()
    assert result.accepted
    assert seen[0].url == f"https://api.eu.mailgun.net/v3/{DOMAIN}/messages"
    assert seen[0].headers["Authorization"] == BASIC


def test_a_domain_with_a_slash_is_a_config_error() -> None:
    settings_ = make_settings(
        "sqlite://",
        providers={"mg": {"type": "mailgun", "api_key": API_KEY, "domain": "acme.example/x"}},
    )
    with pytest.raises(ConfigError, match="domain"):
        build_provider(settings_, "mg")
