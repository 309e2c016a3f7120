"""The sandbox's SES v2 SendEmail emulation: SigV4 checks, Simple and Raw content, errors."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from typing import Any

import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from distro.sandbox.sigv4 import SignedRequest, verify
from tests.sandbox_support import (
    SES_KEY_ID,
    SES_PATH,
    SES_REGION,
    SES_SECRET,
    LiveSandbox,
    live_sandbox,
    ses_headers,
    ses_post,
)


@pytest.fixture
def live() -> Iterator[LiveSandbox]:
    with live_sandbox() as sandbox:
        yield sandbox


def simple(to: list[str] | None = None, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "FromEmailAddress": "Press Office <press@acme.example>",
        "Destination": {"ToAddresses": to or ["jo@news.example"]},
        "Content": {
            "Simple": {
                "Subject": {"Data": "Embargoed: Acme launches"},
                "Body": {"Text": {"Data": "Hello"}, "Html": {"Data": "<p>Hello</p>"}},
                "Headers": [{"Name": "List-Unsubscribe", "Value": "<https://x.example/u/t>"}],
            }
        },
        "EmailTags": [{"Name": "distro_message_id", "Value": "42"}],
    }
    body.update(fields)
    return body


def refused(response: Any, status: int, error_type: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["x-amzn-ErrorType"] == error_type
    message: str = response.json()["message"]
    return message


def test_signed_simple_email_is_stored_with_its_tags(live: LiveSandbox) -> None:
    response = ses_post(live, simple(to=["Jo@News.example"], ReplyToAddresses=["d@acme.example"]))
    assert response.status_code == 200, response.text
    message_id = response.json()["MessageId"]

    (message,) = live.sandbox.store.messages()
    assert (message.api, message.message_id) == ("ses", message_id)
    assert message.recipients == ("jo@news.example",)
    assert (message.custom_id, message.custom_args) == ("42", {"distro_message_id": "42"})
    assert (message.subject, message.text_body, message.html_body) == (
        "Embargoed: Acme launches",
        "Hello",
        "<p>Hello</p>",
    )
    assert message.headers == (("List-Unsubscribe", "<https://x.example/u/t>"),)
    assert message.reply_to == "d@acme.example"


def test_unsigned_request_is_refused(live: LiveSandbox) -> None:
    response = live.http.post(SES_PATH, json=simple())
    refused(response, 403, "MissingAuthenticationTokenException")
    assert len(live.sandbox.store) == 0


@pytest.mark.parametrize(
    ("signing", "error_type"),
    [
        ({"secret": "not-the-secret"}, "SignatureDoesNotMatch"),
        ({"service": "email"}, "SignatureDoesNotMatch"),
        ({"key_id": "AKIAUNKNOWN"}, "UnrecognizedClientException"),
    ],
    ids=["wrong-secret", "wrong-service", "unknown-key"],
)
def test_bad_signatures_are_refused_with_403(
    live: LiveSandbox, signing: dict[str, str], error_type: str
) -> None:
    message = refused(ses_post(live, simple(), **signing), 403, error_type)
    if error_type == "SignatureDoesNotMatch":
        assert message.startswith("The request signature we calculated does not match")
    assert len(live.sandbox.store) == 0


def test_a_body_changed_after_signing_is_refused(live: LiveSandbox) -> None:
    signed = json.dumps(simple()).encode()
    headers = ses_headers(live.url + SES_PATH, signed)
    tampered = json.dumps(simple(to=["eve@evil.example"])).encode()
    response = live.http.post(SES_PATH, content=tampered, headers=headers)
    refused(response, 403, "SignatureDoesNotMatch")


def test_signatures_expire_after_15_minutes() -> None:
    url, body = "http://127.0.0.1:1" + SES_PATH, b"{}"
    headers = {k.lower(): v for k, v in ses_headers(url, body).items()}
    headers["host"] = "127.0.0.1:1"  # what an HTTP client sends along
    request = SignedRequest("POST", url, headers, body)
    credentials = {SES_KEY_ID: SES_SECRET}
    assert verify(request, credentials, "ses") is None
    later = datetime.now(UTC) + timedelta(minutes=16)
    problem = verify(request, credentials, "ses", now=later)
    assert problem is not None
    assert problem.error_type == "InvalidSignatureException"


INVALID = [
    pytest.param(simple(to=[f"r{i}@news.example" for i in range(51)]), "exceeds 50", id="51"),
    pytest.param(
        simple(
            Destination={
                "ToAddresses": [f"r{i}@news.example" for i in range(30)],
                "BccAddresses": [f"b{i}@news.example" for i in range(21)],
            }
        ),
        "exceeds 50",
        id="to-plus-bcc",
    ),
    pytest.param(simple(to=["nope"]), "Illegal address", id="bad-address"),
    pytest.param(simple(FromEmailAddress=None), "FromEmailAddress", id="no-from"),
    pytest.param(
        simple(Content={"Simple": {"Subject": {"Data": "x"}, "Body": {}}}),
        "Text or Html",
        id="no-body",
    ),
    pytest.param(simple(Content={"Template": {"TemplateName": "t"}}), "templates", id="template"),
    pytest.param(simple(Content={}), "exactly one of", id="no-content"),
    pytest.param(
        simple(EmailTags=[{"Name": "has space", "Value": "1"}]), "Invalid tag name", id="tag"
    ),
    pytest.param(
        simple(
            Content={
                "Simple": {
                    "Subject": {"Data": "x"},
                    "Body": {"Text": {"Data": "x"}},
                    "Headers": [{"Name": f"X-{i}", "Value": "v"} for i in range(16)],
                }
            }
        ),
        "at most 15",
        id="16-headers",
    ),
]


@pytest.mark.parametrize(("body", "wording"), INVALID)
def test_invalid_requests_answer_bad_request(
    live: LiveSandbox, body: dict[str, Any], wording: str
) -> None:
    assert wording in refused(ses_post(live, body), 400, "BadRequestException")
    assert len(live.sandbox.store) == 0


def mime_message() -> bytes:
    message = EmailMessage()
    message["From"] = "Press Office <press@acme.example>"
    message["To"] = "Jo Reporter <jo@news.example>"
    message["Subject"] = "Embargoed: Acme läuft"
    message["List-Unsubscribe"] = "<https://x.example/u/t>"
    message.set_content("Hello in text")
    message.add_alternative("<p>Hello in HTML</p>", subtype="html")
    return message.as_bytes()


def test_raw_content_is_parsed_into_parts(live: LiveSandbox) -> None:
    body = {
        "Content": {"Raw": {"Data": base64.b64encode(mime_message()).decode()}},
        "EmailTags": [{"Name": "distro_message_id", "Value": "7"}],
    }
    assert ses_post(live, body).status_code == 200

    (message,) = live.sandbox.store.messages()
    assert message.recipients == ("jo@news.example",)  # from the MIME To: no Destination given
    assert message.from_ == "Press Office <press@acme.example>"
    assert message.subject == "Embargoed: Acme läuft"
    assert message.text_body.strip() == "Hello in text"
    assert message.html_body.strip() == "<p>Hello in HTML</p>"
    assert ("List-Unsubscribe", "<https://x.example/u/t>") in message.headers
    assert message.custom_id == "7"


def test_raw_content_must_be_base64_mime(live: LiveSandbox) -> None:
    body = {"Content": {"Raw": {"Data": "not base64!"}}}
    assert "base64" in refused(ses_post(live, body), 400, "BadRequestException")


# --- with botocore's own SES v2 client ---------------------------------------------------------


def ses_client(live: LiveSandbox, secret: str = SES_SECRET) -> Any:
    session = botocore.session.get_session()
    return session.create_client(
        "sesv2",
        region_name=SES_REGION,
        endpoint_url=live.url,
        aws_access_key_id=SES_KEY_ID,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1}),
    )


def test_botocore_client_sends_and_reads_errors(live: LiveSandbox) -> None:
    client = ses_client(live)
    sent = client.send_email(
        FromEmailAddress="press@acme.example",
        Destination={"ToAddresses": ["jo@news.example"]},
        Content={"Raw": {"Data": mime_message()}},
        EmailTags=[{"Name": "distro_message_id", "Value": "5"}],
    )
    (message,) = live.sandbox.store.messages()
    assert sent["MessageId"] == message.message_id
    assert message.custom_id == "5"

    with pytest.raises(ClientError) as caught:
        client.send_email(
            FromEmailAddress="press@acme.example",
            Destination={"ToAddresses": [f"r{i}@news.example" for i in range(51)]},
            Content={"Simple": {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "x"}}}},
        )
    assert caught.value.response["Error"]["Code"] == "BadRequestException"

    with pytest.raises(ClientError) as caught:
        ses_client(live, secret="wrong").send_email(
            FromEmailAddress="press@acme.example",
            Destination={"ToAddresses": ["jo@news.example"]},
            Content={"Simple": {"Subject": {"Data": "x"}, "Body": {"Text": {"Data": "x"}}}},
        )
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert len(live.sandbox.store) == 1
