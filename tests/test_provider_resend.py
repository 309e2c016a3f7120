"""ResendProvider against Resend's documented batch API: request shape, ids, errors, idempotency."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from distro.errors import OutcomeUnknownError, PermanentProviderError, RetryableProviderError
from distro.providers import build_provider
from distro.providers.base import MESSAGE_ID_KEY, make_client
from distro.providers.resend import ResendProvider, idempotency_key
from tests.conftest import make_settings
from tests.test_provider_sendgrid import personal

API_KEY = "re_123456789"
Handler = Callable[[httpx.Request], httpx.Response]


def provider_with(handler: Handler) -> ResendProvider:
    client = make_client(
        "https://api.resend.com",
        {"Authorization": f"Bearer {API_KEY}", "Accept": "application/json"},
        transport=httpx.MockTransport(handler),
    )
    return ResendProvider("resend", client)


def ids_for(count: int, prefix: str = "id") -> dict[str, Any]:
    return {"data": [{"id": f"{prefix}-{i}"} for i in range(count)]}


def accepting(seen: list[httpx.Request]) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=ids_for(len(json.loads(request.content))))

    return handler


def error(status: int, name: str, message: str) -> dict[str, Any]:
    return {"statusCode": status, "name": name, "message": message}


def test_request_follows_resends_batch_api() -> None:
    seen: list[httpx.Request] = []
    emails = [
        personal(7, to_name="Jo Reporter", reply_to="desk@acme.example"),
        personal(8, to="sam@news.example", tag=""),
    ]
    results = provider_with(accepting(seen)).send_batch(emails, batch_key="distro-3-7-abc")

    (request,) = seen
    assert request.method == "POST"
    assert request.url == "https://api.resend.com/emails/batch"
    assert request.headers["Authorization"] == f"Bearer {API_KEY}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Idempotency-Key"] == "distro-3-7-abc"
    assert request.headers["x-batch-validation"] == "permissive"
    first, second = json.loads(request.content)
    assert first == {
        "from": "Acme Press <press@acme.example>",
        "to": ["Jo Reporter <jo@news.example>"],
        "subject": "Harbor City Library opens its newspaper archive",
        "html": emails[0].html,
        "text": emails[0].text,
        "headers": {
            "List-Unsubscribe": emails[0].headers["List-Unsubscribe"],
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
        "tags": [
            {"name": MESSAGE_ID_KEY, "value": "7"},
            {"name": "distro_tag", "value": "release-42"},
        ],
        "reply_to": "desk@acme.example",
    }
    assert second["to"] == ["sam@news.example"]
    assert second["tags"] == [{"name": MESSAGE_ID_KEY, "value": "8"}]
    assert "reply_to" not in second
    assert [(r.message_id, r.accepted, r.provider_message_id) for r in results] == [
        (7, True, "id-0"),
        (8, True, "id-1"),
    ]


def test_no_idempotency_key_without_a_batch_key() -> None:
    seen: list[httpx.Request] = []
    provider_with(accepting(seen)).send_batch([personal(1)])
    assert "Idempotency-Key" not in seen[0].headers


def test_a_long_batch_key_is_shortened_the_same_way_every_time() -> None:
    long_key = "k" * 300
    assert idempotency_key(long_key) == idempotency_key(long_key)
    assert len(idempotency_key(long_key)) <= 256
    assert idempotency_key(long_key) != idempotency_key("k" * 301)
    assert idempotency_key("short") == "short"


def test_honours_the_idempotency_key() -> None:
    assert ResendProvider.honours_idempotency_key


def test_tag_values_are_made_safe_for_resend() -> None:
    seen: list[httpx.Request] = []
    provider_with(accepting(seen)).send_batch([personal(1, tag="launch: Q3/2024 é")])
    (payload,) = json.loads(seen[0].content)
    assert payload["tags"][1] == {"name": "distro_tag", "value": "launch__Q3_2024__"}


def test_permissive_validation_fails_only_the_invalid_emails() -> None:
    answer = {
        "data": [{"id": "id-a"}, {"id": "id-c"}],
        "errors": [{"index": 1, "message": "Invalid `to` field."}],
    }
    provider = provider_with(lambda request: httpx.Response(200, json=answer))
    results = provider.send_batch([personal(1), personal(2, to="nope"), personal(3)])

    assert [(r.message_id, r.accepted, r.provider_message_id) for r in results] == [
        (1, True, "id-a"),
        (2, False, None),
        (3, True, "id-c"),
    ]
    assert results[1].error is not None
    assert "Invalid `to` field." in results[1].error
    assert not results[1].retryable
    assert not results[1].unknown


@pytest.mark.parametrize(
    "answer",
    [
        {"data": [{"id": "id-0"}]},  # one id for two emails
        {"data": [{"id": "id-0"}, {}]},
        {"object": "email"},
        [],
    ],
)
def test_an_unreadable_success_is_an_unknown_outcome(answer: Any) -> None:
    provider = provider_with(lambda request: httpx.Response(200, json=answer))
    results = provider.send_batch([personal(1), personal(2)])
    assert [(r.accepted, r.unknown, r.retryable) for r in results] == [(False, True, False)] * 2


def test_a_success_that_is_not_json_is_an_unknown_outcome() -> None:
    provider = provider_with(lambda request: httpx.Response(200, text="<html>"))
    (result,) = provider.send_batch([personal(1)])
    assert (result.accepted, result.unknown) == (False, True)


@pytest.mark.parametrize(
    ("status", "name", "message"),
    [
        (422, "validation_error", "Invalid `from` field. The email address needs to follow..."),
        (422, "invalid_from_address", "Invalid `from` field."),
        (400, "validation_error", "The `tags` field is invalid."),
        (400, "invalid_idempotency_key", "The key must be between 1-256 chars."),
    ],
)
def test_validation_errors_are_permanent_with_resends_message(
    status: int, name: str, message: str
) -> None:
    provider = provider_with(
        lambda request: httpx.Response(status, json=error(status, name, message))
    )
    with pytest.raises(PermanentProviderError) as caught:
        provider.send_batch([personal(1)], batch_key="k")
    assert caught.value.status_code == status
    assert name in str(caught.value)
    assert message in str(caught.value)
    assert not isinstance(caught.value, RetryableProviderError)


def test_a_key_still_in_progress_is_an_unknown_outcome() -> None:
    body = error(
        409,
        "concurrent_idempotent_requests",
        "Same idempotency key used while original request is still in progress.",
    )
    provider = provider_with(lambda request: httpx.Response(409, json=body))
    with pytest.raises(OutcomeUnknownError) as caught:
        provider.send_batch([personal(1)], batch_key="k")
    assert caught.value.status_code == 409
    assert "still in progress" in str(caught.value)


def test_a_key_used_for_a_different_request_is_permanent_and_says_it_may_have_gone() -> None:
    body = error(
        409,
        "invalid_idempotent_request",
        "Same idempotency key used with a different request payload.",
    )
    provider = provider_with(lambda request: httpx.Response(409, json=body))
    with pytest.raises(PermanentProviderError) as caught:
        provider.send_batch([personal(1)], batch_key="k")
    assert caught.value.status_code == 409
    assert "may have been delivered" in str(caught.value)
    assert "invalid_idempotent_request" in str(caught.value)


@pytest.mark.parametrize(
    ("headers", "retry_after"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"ratelimit-limit": "2", "ratelimit-remaining": "0", "ratelimit-reset": "1"}, 1.0),
    ],
)
def test_rate_limit_is_retryable_with_resends_wait(
    headers: dict[str, str], retry_after: float
) -> None:
    body = error(429, "rate_limit_exceeded", "Too many requests.")
    provider = provider_with(lambda request: httpx.Response(429, json=body, headers=headers))
    with pytest.raises(RetryableProviderError) as caught:
        provider.send_batch([personal(1)])
    assert caught.value.status_code == 429
    assert caught.value.retry_after == retry_after
    assert provider.resume_at > time.monotonic()


def test_server_error_is_retryable() -> None:
    body = error(500, "application_error", "An unexpected error occurred.")
    provider = provider_with(lambda request: httpx.Response(500, json=body))
    with pytest.raises(RetryableProviderError) as caught:
        provider.send_batch([personal(1)])
    assert caught.value.status_code == 500


@pytest.mark.parametrize(("status", "name"), [(401, "missing_api_key"), (403, "invalid_api_key")])
def test_refused_key_is_permanent(status: int, name: str) -> None:
    provider = provider_with(lambda request: httpx.Response(status, json=error(status, name, "no")))
    with pytest.raises(PermanentProviderError) as caught:
        provider.send_batch([personal(1)])
    assert caught.value.status_code == status
    assert not isinstance(caught.value, RetryableProviderError)


def test_read_timeout_means_outcome_unknown() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(OutcomeUnknownError):
        provider_with(handler).send_batch([personal(1)], batch_key="k")


def test_connect_error_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RetryableProviderError):
        provider_with(handler).send_batch([personal(1)])


def test_more_than_100_is_refused_before_sending() -> None:
    seen: list[httpx.Request] = []
    emails = [personal(i, f"r{i}@news.example") for i in range(101)]
    with pytest.raises(ValueError, match="100"):
        provider_with(accepting(seen)).send_batch(emails)
    assert seen == []


def test_concurrent_batches_from_several_threads_keep_their_own_results() -> None:
    lock = threading.Lock()
    keys: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        with lock:
            keys.append(request.headers["Idempotency-Key"])
        time.sleep(0.005)
        emails = json.loads(request.content)
        return httpx.Response(
            200, json={"data": [{"id": f"re-{e['tags'][0]['value']}"} for e in emails]}
        )

    provider = provider_with(handler)
    batches = [
        [personal(t * 100 + i, f"r{t}-{i}@news.example") for i in range(30)] for t in range(8)
    ]
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(
            pool.map(lambda b: provider.send_batch(b, batch_key=f"key-{b[0].message_id}"), batches)
        )

    assert sorted(keys) == sorted(f"key-{t * 100}" for t in range(8))
    for t, results in enumerate(answers):
        assert [(r.message_id, r.provider_message_id) for r in results] == [
            (t * 100 + i, f"re-{t * 100 + i}") for i in range(30)
        ]


def test_built_from_config() -> None:
    seen: list[httpx.Request] = []
    settings_ = make_settings("sqlite://", providers={"rs": {"type": "resend", "api_key": API_KEY}})
    provider = build_provider(settings_, "rs", transport=httpx.MockTransport(accepting(seen)))
    try:
        assert isinstance(provider, ResendProvider)
        (result,) = provider.send_batch([personal(1)])
    finally:
        provider.close()
    assert result.accepted
    assert seen[0].url == "https://api.resend.com/emails/batch"
    assert seen[0].headers["Authorization"] == f"Bearer {API_KEY}"
