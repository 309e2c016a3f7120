"""The sandbox's SendGrid v3 Mail Send emulation over real loopback HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox_support import LiveSandbox, bearer, custom_ids, live_sandbox

PATH = "/v3/mail/send"


@pytest.fixture
def live() -> Iterator[LiveSandbox]:
    with live_sandbox() as sandbox:
        yield sandbox


def personalization(address: str, distro_id: str, **extra: Any) -> dict[str, Any]:
    return {"to": [{"email": address}], "custom_args": {"distro_message_id": distro_id}, **extra}


def mail(*personalizations: dict[str, Any], **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "from": {"email": "press@acme.example", "name": "Press Office"},
        "subject": "Embargoed: Acme launches",
        "content": [
            {"type": "text/plain", "value": "Hello -name-"},
            {"type": "text/html", "value": "<p>Hello -name-</p>"},
        ],
        "personalizations": list(personalizations) or [personalization("jo@news.example", "1")],
    }
    body.update(fields)
    return {k: v for k, v in body.items() if v is not None}


def errors(live: LiveSandbox, body: Any) -> list[dict[str, Any]]:
    response = live.http.post(PATH, json=body, headers=bearer())
    assert response.status_code == 400, response.text
    found: list[dict[str, Any]] = response.json()["errors"]
    assert all(set(e) == {"message", "field", "help"} for e in found)
    assert len(live.sandbox.store) == 0
    return found


@pytest.mark.parametrize(
    ("headers", "wording"),
    [
        ({}, "authorization required"),
        (bearer("wrong"), "The provided authorization grant is invalid, expired, or revoked"),
        ({"Authorization": f"Basic {'x' * 8}"}, "authorization required"),
    ],
)
def test_missing_or_unknown_key_is_refused(
    live: LiveSandbox, headers: dict[str, str], wording: str
) -> None:
    response = live.http.post(PATH, json=mail(), headers=headers)
    assert response.status_code == 401
    assert response.json() == {"errors": [{"message": wording, "field": None, "help": None}]}
    assert len(live.sandbox.store) == 0


def test_accepted_request_answers_202_with_x_message_id(live: LiveSandbox) -> None:
    body = mail(
        personalization("Jo@News.example", "41", substitutions={"-name-": "Jo"}),
        personalization(
            "sam@paper.example",
            "42",
            substitutions={"-name-": "Sam"},
            subject="For Sam",
            headers={"X-Desk": "business"},
        ),
        headers={"List-Unsubscribe": "<https://x.example/u/t>"},
        custom_args={"release": "7"},
        categories=["release-7"],
    )
    response = live.http.post(PATH, json=body, headers=bearer())
    assert response.status_code == 202
    assert response.content == b""
    request_id = response.headers["X-Message-Id"]
    assert len(request_id) == 22

    assert custom_ids(live) == {"jo@news.example": "41", "sam@paper.example": "42"}
    jo, sam = sorted(live.sandbox.store.messages(), key=lambda m: m.to)
    for message in (jo, sam):
        assert message.api == "sendgrid"
        assert message.message_id.startswith(request_id + ".")
        assert message.from_ == "Press Office <press@acme.example>"
        assert message.tag == "release-7"
    assert jo.message_id != sam.message_id
    assert (jo.subject, jo.text_body, jo.html_body) == (
        "Embargoed: Acme launches",
        "Hello Jo",
        "<p>Hello Jo</p>",
    )
    assert (sam.subject, sam.text_body) == ("For Sam", "Hello Sam")
    assert dict(sam.headers) == {
        "List-Unsubscribe": "<https://x.example/u/t>",
        "X-Desk": "business",
    }
    assert jo.custom_args == {"release": "7", "distro_message_id": "41"}


def test_one_personalization_with_several_recipients_is_one_message(live: LiveSandbox) -> None:
    body = mail(
        {
            "to": [{"email": "a@news.example", "name": "A"}],
            "cc": [{"email": "b@news.example"}],
            "bcc": [{"email": "c@news.example"}],
        }
    )
    assert live.http.post(PATH, json=body, headers=bearer()).status_code == 202
    (message,) = live.sandbox.store.messages()
    assert message.recipients == ("a@news.example", "b@news.example", "c@news.example")
    assert (message.to, message.cc, message.bcc) == (
        "A <a@news.example>",
        "b@news.example",
        "c@news.example",
    )


def test_missing_pieces_are_all_reported_at_once(live: LiveSandbox) -> None:
    found = errors(live, {"personalizations": [{"to": [{"email": "jo@news.example"}]}]})
    fields = {e["field"] for e in found}
    assert {"from", "content", "subject"} <= fields


INVALID = [
    pytest.param(mail(personalizations=[]), "personalizations", "at least one", id="none"),
    pytest.param(
        mail(*[personalization(f"r{i}@news.example", str(i)) for i in range(1001)]),
        "personalizations",
        "limited to 1000 personalizations",
        id="1001-personalizations",
    ),
    pytest.param(
        mail({"to": [{"email": f"r{i}@news.example"} for i in range(1001)]}),
        "personalizations",
        "limit of 1000 total recipients",
        id="1001-recipients",
    ),
    pytest.param(
        mail(personalization("jo@news.example", "1"), personalization("JO@news.example", "2")),
        "personalizations.1.to.0.email",
        "should only be included once",
        id="same-address-twice",
    ),
    pytest.param(
        mail({"to": [{"email": "jo@news.example"}], "cc": [{"email": "jo@news.example"}]}),
        "personalizations.0",
        "unique between to, cc, and bcc",
        id="to-and-cc",
    ),
    pytest.param(
        mail({"cc": [{"email": "jo@news.example"}]}),
        "personalizations.0.to",
        "The to array is required",
        id="no-to",
    ),
    pytest.param(
        mail(personalization("nope", "1")),
        "personalizations.0.to.0.email",
        "valid address",
        id="bad-address",
    ),
    pytest.param(mail(content=[]), "content", "content parameter is required", id="no-content"),
    pytest.param(
        mail(content=[{"type": "text/html", "value": ""}]),
        "content.0.value",
        "at least one character",
        id="empty-content",
    ),
    pytest.param(
        mail(
            content=[
                {"type": "text/html", "value": "<p>x</p>"},
                {"type": "text/plain", "value": "x"},
            ]
        ),
        "content.1.type",
        "text/plain must be first",
        id="plain-after-html",
    ),
    pytest.param(mail(subject=None), "subject", "The subject is required", id="no-subject"),
    pytest.param(
        mail({"to": [{"email": "jo@news.example"}], "custom_args": {"n": 5}}),
        "personalizations.0.custom_args.n",
        "Expected: string, given: integer",
        id="number-custom-arg",
    ),
    pytest.param(
        mail(**{"from": {"email": "not-an-address"}}), "from.email", "valid address", id="bad-from"
    ),
    pytest.param(mail(template_id="d-123"), "template_id", "templates", id="template"),
    pytest.param(
        mail(
            personalization(
                "jo@news.example", "1", substitutions={f"-k{i}-": "v" for i in range(101)}
            )
        ),
        "personalizations.0.substitutions",
        "more than 100 substitutions",
        id="101-substitutions",
    ),
    pytest.param(
        mail(personalization("jo@news.example", "1", substitutions={"-k-": "v" * 10_000})),
        "personalizations.0.substitutions",
        "10000 bytes",
        id="substitutions-over-10000-bytes",
    ),
]


@pytest.mark.parametrize(("body", "field", "wording"), INVALID)
def test_invalid_requests_are_refused_whole(
    live: LiveSandbox, body: dict[str, Any], field: str, wording: str
) -> None:
    found = errors(live, body)
    assert any(e["field"] == field and wording in e["message"] for e in found), found


def test_request_body_must_be_json(live: LiveSandbox) -> None:
    response = live.http.post(PATH, content=b"{", headers=bearer())
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Bad Request"
