"""The sandbox's Mailgun messages endpoint over real loopback HTTP (form and multipart)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.sandbox_support import LiveSandbox, custom_ids, live_sandbox, mailgun_auth

PATH = "/v3/mg.acme.example/messages"
Fields = list[tuple[str, str]]


@pytest.fixture
def live() -> Iterator[LiveSandbox]:
    with live_sandbox() as sandbox:
        yield sandbox


def fields(*extra: tuple[str, str], to: tuple[str, ...] = ("jo@news.example",)) -> Fields:
    found: Fields = [
        ("from", "Press Office <press@acme.example>"),
        *[("to", address) for address in to],
        ("subject", "Embargoed: Acme launches"),
        ("text", "Hello"),
        ("html", "<p>Hello</p>"),
    ]
    return [*found, *extra]


def post(
    live: LiveSandbox, data: Fields, multipart: bool = False, auth: dict[str, str] | None = None
) -> Any:
    headers = mailgun_auth(**(auth or {}))
    if multipart:  # every field as a form-data part, the way SDKs send attachments
        files = [(name, (None, value)) for name, value in data]
        return live.http.post(PATH, files=files, headers=headers)
    return live.http.post(PATH, data=dict(_grouped(data)), headers=headers)


def _grouped(data: Fields) -> Iterator[tuple[str, str | list[str]]]:
    names: dict[str, list[str]] = {}
    for name, value in data:
        names.setdefault(name, []).append(value)
    for name, values in names.items():
        yield name, values if len(values) > 1 else values[0]


@pytest.mark.parametrize(
    "auth", [{"password": "wrong"}, {"user": "someone", "password": "sandbox-test-token"}]
)
def test_unknown_credentials_are_forbidden(live: LiveSandbox, auth: dict[str, str]) -> None:
    response = post(live, fields(), auth=auth)
    assert (response.status_code, response.text) == (401, "Forbidden")
    assert live.http.post(PATH, data=dict(fields())).status_code == 401  # no header at all
    assert len(live.sandbox.store) == 0


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
def test_one_message_to_everyone_without_recipient_variables(
    live: LiveSandbox, multipart: bool
) -> None:
    data = fields(
        ("h:List-Unsubscribe", "<https://x.example/u/t>"),
        ("h:Reply-To", "desk@acme.example"),
        ("v:distro_message_id", "9"),
        ("o:tag", "release-7"),
        to=("Jo <jo@news.example>", "sam@paper.example"),
    )
    response = post(live, data, multipart=multipart)
    assert response.status_code == 200, response.text
    answer = response.json()
    assert answer["message"] == "Queued. Thank you."
    assert answer["id"].startswith("<")
    assert answer["id"].endswith("@mg.acme.example>")

    (message,) = live.sandbox.store.messages()
    assert message.api == "mailgun"
    assert message.message_id == answer["id"].strip("<>")
    assert message.recipients == ("jo@news.example", "sam@paper.example")
    assert message.to == "Jo <jo@news.example>, sam@paper.example"
    assert message.reply_to == "desk@acme.example"
    assert message.headers == (("List-Unsubscribe", "<https://x.example/u/t>"),)
    assert (message.custom_id, message.custom_args) == ("9", {"distro_message_id": "9"})
    assert message.tag == "release-7"


@pytest.mark.parametrize("multipart", [False, True], ids=["urlencoded", "multipart"])
def test_recipient_variables_make_one_message_per_recipient(
    live: LiveSandbox, multipart: bool
) -> None:
    variables = {
        "jo@news.example": {"id": "41", "name": "Jo"},
        "Sam@Paper.example": {"id": 42, "name": "Sam"},
    }
    data = fields(
        ("recipient-variables", json.dumps(variables)),
        ("v:distro_message_id", "%recipient.id%"),
        ("h:X-Greeting", "for %recipient.name%"),
        to=("jo@news.example", "Sam <sam@paper.example>"),
    )
    data = [(n, "Hi %recipient.name%" if n == "text" else v) for n, v in data]
    response = post(live, data, multipart=multipart)
    assert response.status_code == 200, response.text

    assert custom_ids(live) == {"jo@news.example": "41", "sam@paper.example": "42"}
    by_address = {m.recipients[0]: m for m in live.sandbox.store.messages()}
    jo, sam = by_address["jo@news.example"], by_address["sam@paper.example"]
    assert (jo.text_body, sam.text_body) == ("Hi Jo", "Hi Sam")
    assert dict(sam.headers)["X-Greeting"] == "for Sam"
    assert sam.to == "Sam <sam@paper.example>"
    # One id answers the call and every message of the batch carries it.
    answer_id = response.json()["id"].strip("<>")
    assert jo.message_id == sam.message_id == answer_id
    assert jo.ref != sam.ref
    assert live.http.get(f"/api/messages/{sam.ref}").json()["CustomId"] == "42"


INVALID = [
    pytest.param([("to", "jo@news.example"), ("text", "x")], "'from' parameter is missing"),
    pytest.param([("from", "press@acme.example"), ("text", "x")], "'to' parameter is missing"),
    pytest.param(
        [("from", "press@acme.example"), ("to", "nope"), ("text", "x")],
        "'to' parameter is not a valid address",
    ),
    pytest.param(
        [("from", "press@acme.example"), ("to", "jo@news.example")],
        "Need at least one of 'text', 'html', 'amp-html' or 'template' parameters specified",
    ),
    pytest.param(
        fields(("recipient-variables", "{not json")),
        "'recipient-variables' parameter is not a valid JSON",
    ),
    pytest.param(fields(*[("o:tag", f"t{i}") for i in range(4)]), "Too many tags"),
    pytest.param(
        fields(
            ("recipient-variables", "{}"),
            to=tuple(f"r{i}@news.example" for i in range(1001)),
        ),
        "at most 1000",
    ),
]


@pytest.mark.parametrize(("data", "wording"), INVALID)
def test_invalid_requests_answer_400_with_a_message(
    live: LiveSandbox, data: Fields, wording: str
) -> None:
    response = post(live, data)
    assert response.status_code == 400
    assert wording in response.json()["message"]
    assert len(live.sandbox.store) == 0
