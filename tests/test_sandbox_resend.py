"""The sandbox's Resend emulation: /emails, /emails/batch, errors and Idempotency-Key."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from distro.sandbox.idempotency import TTL_SECONDS, IdempotencyCache, IdempotencyConflict
from tests.sandbox_support import LiveSandbox, bearer, custom_ids, live_sandbox


@pytest.fixture
def live() -> Iterator[LiveSandbox]:
    with live_sandbox() as sandbox:
        yield sandbox


def email(to: Any = "jo@news.example", distro_id: str = "1", **fields: Any) -> Any:
    body: dict[str, Any] = {
        "from": "Press Office <press@acme.example>",
        "to": to,
        "subject": "Embargoed: Acme launches",
        "html": "<p>Hello</p>",
        "text": "Hello",
        "headers": {"List-Unsubscribe": "<https://x.example/u/t>"},
        "tags": [{"name": "distro_message_id", "value": distro_id}],
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def send(live: LiveSandbox, path: str, body: Any, key: str | None = None) -> httpx.Response:
    headers = bearer() | ({"Idempotency-Key": key} if key is not None else {})
    return live.http.post(path, json=body, headers=headers)


def resend_error(response: httpx.Response, status: int, name: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"statusCode", "name", "message"}
    assert (body["statusCode"], body["name"]) == (status, name)
    message: str = body["message"]
    return message


@pytest.mark.parametrize("path", ["/emails", "/emails/batch"])
def test_missing_and_invalid_keys(live: LiveSandbox, path: str) -> None:
    body = email() if path == "/emails" else [email()]
    missing = live.http.post(path, json=body)
    assert "Missing API key" in resend_error(missing, 401, "missing_api_key")
    invalid = live.http.post(path, json=body, headers=bearer("re_wrong"))
    assert resend_error(invalid, 403, "invalid_api_key") == "API key is invalid."
    assert len(live.sandbox.store) == 0


def test_single_email_is_stored_with_its_tags(live: LiveSandbox) -> None:
    response = send(live, "/emails", email(to=["Jo <Jo@news.example>"], cc="desk@news.example"))
    assert response.status_code == 200
    message_id = response.json()["id"]
    assert set(response.json()) == {"id"}
    assert uuid.UUID(message_id)

    (message,) = live.sandbox.store.messages()
    assert (message.api, message.message_id) == ("resend", message_id)
    assert message.recipients == ("jo@news.example", "desk@news.example")
    assert (message.custom_id, message.custom_args) == ("1", {"distro_message_id": "1"})
    assert message.headers == (("List-Unsubscribe", "<https://x.example/u/t>"),)


def test_batch_answers_ids_in_order(live: LiveSandbox) -> None:
    batch = [email(f"j{i}@news.example", str(i)) for i in range(100)]
    response = send(live, "/emails/batch", batch)
    assert response.status_code == 200
    ids = [item["id"] for item in response.json()["data"]]
    assert len(set(ids)) == 100
    assert custom_ids(live) == {f"j{i}@news.example": str(i) for i in range(100)}
    for index in (0, 57, 99):
        stored = live.sandbox.store.get(ids[index])
        assert stored is not None
        assert stored.recipients == (f"j{index}@news.example",)


INVALID = [
    pytest.param(email(to=None), "missing_required_field", "Missing `to` field.", id="no-to"),
    pytest.param(email(subject=None), "missing_required_field", "`subject`", id="no-subject"),
    pytest.param(
        {k: v for k, v in email().items() if k != "from"},
        "missing_required_field",
        "`from`",
        id="no-from",
    ),
    pytest.param(email(to="nope"), "validation_error", "Invalid `to` field.", id="bad-to"),
    pytest.param(email(html=None, text=None), "missing_required_field", "`html`", id="no-body"),
    pytest.param(
        email(to=[f"r{i}@news.example" for i in range(51)]), "validation_error", "50", id="51"
    ),
    pytest.param(
        email(tags=[{"name": "bad tag", "value": "1"}]), "validation_error", "Tags", id="tag"
    ),
]


@pytest.mark.parametrize(("body", "name", "wording"), INVALID)
def test_invalid_email_answers_422(
    live: LiveSandbox, body: dict[str, Any], name: str, wording: str
) -> None:
    assert wording in resend_error(send(live, "/emails", body), 422, name)
    # A batch is validated whole: one bad email refuses every email in it.
    batch = send(live, "/emails/batch", [email("ok@news.example"), body])
    assert wording in resend_error(batch, 422, name)
    assert len(live.sandbox.store) == 0


def test_permissive_batch_sends_the_valid_emails(live: LiveSandbox) -> None:
    batch = [email("a@news.example", "1"), email("nope", "2"), email("c@news.example", "3")]
    response = live.http.post(
        "/emails/batch", json=batch, headers=bearer() | {"x-batch-validation": "permissive"}
    )
    assert response.status_code == 200
    answer = response.json()
    assert len(answer["data"]) == 2
    (refused,) = answer["errors"]
    assert refused["index"] == 1
    assert "Invalid `to` field." in refused["message"]
    assert custom_ids(live) == {"a@news.example": "1", "c@news.example": "3"}
    first = live.sandbox.store.get(answer["data"][0]["id"])
    assert first is not None
    assert first.recipients == ("a@news.example",)


def test_batch_of_101_is_refused(live: LiveSandbox) -> None:
    batch = [email(f"j{i}@news.example") for i in range(101)]
    assert "100" in resend_error(send(live, "/emails/batch", batch), 422, "validation_error")


# --- Idempotency-Key ---------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/emails", "/emails/batch"])
def test_same_key_same_body_replays_the_answer(live: LiveSandbox, path: str) -> None:
    body = email() if path == "/emails" else [email("a@news.example"), email("b@news.example")]
    first = send(live, path, body, key="release-7/batch-1")
    again = send(live, path, body, key="release-7/batch-1")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert len(live.sandbox.store) == (1 if path == "/emails" else 2)


def test_same_key_different_body_is_a_conflict(live: LiveSandbox) -> None:
    assert send(live, "/emails", email(), key="k-1").status_code == 200
    conflict = send(live, "/emails", email(subject="Changed"), key="k-1")
    resend_error(conflict, 409, "invalid_idempotent_request")
    assert len(live.sandbox.store) == 1


def test_refused_requests_do_not_use_up_the_key(live: LiveSandbox) -> None:
    resend_error(send(live, "/emails", email(to="nope"), key="k-2"), 422, "validation_error")
    assert send(live, "/emails", email(), key="k-2").status_code == 200


def test_overlong_key_is_refused(live: LiveSandbox) -> None:
    response = send(live, "/emails", email(), key="k" * 257)
    resend_error(response, 400, "invalid_idempotency_key")


def test_keys_expire_after_24_hours() -> None:
    now = [1000.0]
    cache = IdempotencyCache(clock=lambda: now[0])
    cache.remember("k", "print-a", 200, {"id": "1"})
    with pytest.raises(IdempotencyConflict):
        cache.replay("k", "print-b")
    now[0] += TTL_SECONDS + 1
    assert cache.replay("k", "print-b") is None
