"""PostmarkProvider against Postmark's documented request and response shapes, and the sandbox."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from distro.errors import OutcomeUnknownError, PermanentProviderError, RetryableProviderError
from distro.providers.base import MESSAGE_ID_KEY, OutboundEmail, make_client
from distro.providers.postmark import PostmarkProvider
from distro.sandbox import Sandbox, SandboxOptions, create_sandbox_app
from distro.web.server import ServerThread, bind_socket

TOKEN = "server-token-123"
Handler = Callable[[httpx.Request], httpx.Response]


def provider_with(handler: Handler) -> PostmarkProvider:
    client = make_client(
        "https://api.postmarkapp.com",
        {"X-Postmark-Server-Token": TOKEN, "Accept": "application/json"},
        transport=httpx.MockTransport(handler),
    )
    return PostmarkProvider("postmark", client, message_stream="broadcast")


def outbound(message_id: int, to: str = "jo@news.example", **fields: Any) -> OutboundEmail:
    values: dict[str, Any] = {
        "message_id": message_id,
        "to_email": to,
        "subject": f"Release {message_id}",
        "html": "<p>News</p>",
        "text": "News",
        "from_email": "press@acme.example",
    }
    values.update(fields)
    return OutboundEmail(**values)


def ok(to: str, message_id: str) -> dict[str, Any]:
    return {
        "To": to,
        "SubmittedAt": "2024-05-01T10:00:00.1234567-04:00",
        "MessageID": message_id,
        "ErrorCode": 0,
        "Message": "OK",
    }


def test_request_follows_postmarks_batch_api() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        return httpx.Response(200, json=[ok(m["To"], f"id-{i}") for i, m in enumerate(body)])

    provider = provider_with(handler)
    emails = [
        outbound(
            7,
            to_name="Jo Reporter",
            from_name="Acme Press",
            reply_to="desk@acme.example",
            headers={"List-Unsubscribe": "<https://acme.example/u/tok>"},
            tag="launch",
        ),
        outbound(8, to="sam@news.example"),
    ]
    results = provider.send_batch(emails)

    (request,) = seen
    assert request.method == "POST"
    assert request.url == "https://api.postmarkapp.com/email/batch"
    assert request.headers["X-Postmark-Server-Token"] == TOKEN
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["Accept"] == "application/json"
    first, second = json.loads(request.content)
    assert first == {
        "From": "Acme Press <press@acme.example>",
        "To": "Jo Reporter <jo@news.example>",
        "Subject": "Release 7",
        "HtmlBody": "<p>News</p>",
        "TextBody": "News",
        "Headers": [{"Name": "List-Unsubscribe", "Value": "<https://acme.example/u/tok>"}],
        "Metadata": {MESSAGE_ID_KEY: "7"},
        "MessageStream": "broadcast",
        "TrackOpens": False,
        "TrackLinks": "None",
        "ReplyTo": "desk@acme.example",
        "Tag": "launch",
    }
    assert second["To"] == "sam@news.example"
    assert second["Metadata"] == {MESSAGE_ID_KEY: "8"}
    assert "Tag" not in second
    assert "ReplyTo" not in second
    assert [(r.message_id, r.accepted, r.provider_message_id) for r in results] == [
        (7, True, "id-0"),
        (8, True, "id-1"),
    ]


def test_partial_batch_failure_gives_per_message_results() -> None:
    answer = [
        ok("a@news.example", "id-a"),
        {
            "ErrorCode": 406,
            "Message": "You tried to send to a recipient that has been marked as inactive.",
        },
        {"ErrorCode": 300, "Message": "Error parsing 'To': Illegal email address 'nope'."},
        {"ErrorCode": 429, "Message": "Rate limit exceeded."},
    ]
    provider = provider_with(lambda request: httpx.Response(200, json=answer))
    results = provider.send_batch([outbound(i) for i in range(1, 5)])

    assert [r.message_id for r in results] == [1, 2, 3, 4]
    assert [r.accepted for r in results] == [True, False, False, False]
    assert results[0].provider_message_id == "id-a"
    assert results[1].error is not None
    assert "406" in results[1].error
    assert "inactive" in results[1].error
    assert [r.retryable for r in results] == [False, False, False, True]
    assert all(r.provider_message_id is None for r in results[1:])


def test_result_count_mismatch_is_refused() -> None:
    provider = provider_with(lambda request: httpx.Response(200, json=[ok("a@x.example", "1")]))
    with pytest.raises(PermanentProviderError):
        provider.send_batch([outbound(1), outbound(2)])


@pytest.mark.parametrize(
    ("status", "headers", "retry_after"),
    [(429, {"Retry-After": "7"}, 7.0), (503, {"Retry-After": "30"}, 30.0), (500, {}, None)],
)
def test_rate_limit_and_server_errors_are_retryable(
    status: int, headers: dict[str, str], retry_after: float | None
) -> None:
    body = {"ErrorCode": 429 if status == 429 else 0, "Message": "try later"}
    provider = provider_with(lambda request: httpx.Response(status, json=body, headers=headers))
    with pytest.raises(RetryableProviderError) as caught:
        provider.send_batch([outbound(1)])
    assert caught.value.status_code == status
    assert caught.value.retry_after == retry_after


def test_bad_token_is_permanent() -> None:
    body = {"ErrorCode": 10, "Message": "The Server Token you provided was invalid."}
    provider = provider_with(lambda request: httpx.Response(401, json=body))
    with pytest.raises(PermanentProviderError) as caught:
        provider.send_batch([outbound(1)])
    assert caught.value.status_code == 401
    assert not isinstance(caught.value, RetryableProviderError)


def test_whole_request_422_is_permanent() -> None:
    body = {"ErrorCode": 410, "Message": "Too many batch messages."}
    provider = provider_with(lambda request: httpx.Response(422, json=body))
    with pytest.raises(PermanentProviderError) as caught:
        provider.send_batch([outbound(1)])
    assert caught.value.status_code == 422
    assert "Too many batch messages" in str(caught.value)


def test_read_timeout_means_outcome_unknown() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(OutcomeUnknownError):
        provider_with(handler).send_batch([outbound(1)])


def test_connect_error_is_retryable() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RetryableProviderError) as caught:
        provider_with(handler).send_batch([outbound(1)])
    assert caught.value.status_code is None


def test_more_than_500_is_refused_before_sending() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json=[])

    with pytest.raises(ValueError, match="500"):
        provider_with(handler).send_batch([outbound(i) for i in range(501)])
    assert calls == []


# --- against the sandbox over loopback -------------------------------------------------------


@pytest.fixture
def sandbox_server() -> Iterator[tuple[str, Sandbox]]:
    app, sandbox = create_sandbox_app(SandboxOptions(server_tokens=frozenset({TOKEN})))
    try:
        with ServerThread(app, bind_socket("127.0.0.1", 0)) as server:
            yield server.url, sandbox
    finally:
        sandbox.close()


def test_adapter_against_the_sandbox(sandbox_server: tuple[str, Sandbox]) -> None:
    url, sandbox = sandbox_server
    provider = PostmarkProvider(
        "sandbox",
        make_client(url, {"X-Postmark-Server-Token": TOKEN}),
        message_stream="broadcast",
    )
    try:
        emails = [outbound(100 + i, to=f"journalist{i}@news.example") for i in range(20)]
        emails.append(outbound(200, to="nope"))  # refused by the sandbox, like Postmark
        results = provider.send_batch(emails)
    finally:
        provider.close()

    assert all(r.accepted for r in results[:20])
    assert not results[20].accepted
    assert results[20].error is not None
    assert "300" in results[20].error
    counts = sandbox.store.recipient_counts()
    assert counts == {f"journalist{i}@news.example": 1 for i in range(20)}
    for email, result in zip(emails, results[:20], strict=False):
        assert result.provider_message_id is not None
        stored = sandbox.store.get(result.provider_message_id)
        assert stored is not None
        assert stored.recipients == (email.to_email,)
        assert stored.metadata == {MESSAGE_ID_KEY: str(email.message_id)}
        assert stored.message_stream == "broadcast"
