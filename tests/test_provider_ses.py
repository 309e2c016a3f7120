"""SesProvider: request shape, SigV4 and error mapping on a mock transport; then moto's server."""

from __future__ import annotations

import base64
import email
import email.policy
import email.utils
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from email.message import EmailMessage
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from moto.server import ThreadedMotoServer

from distro.errors import PermanentProviderError, RetryableProviderError
from distro.providers import build_provider
from distro.providers.base import MESSAGE_ID_KEY, OutboundEmail, make_client
from distro.providers.ses import SesProvider
from tests.conftest import make_settings
from tests.factories import outbound_email

ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "eu-west-1"
BASE = f"https://email.{REGION}.amazonaws.com"
SEND_URL = f"{BASE}/v2/email/outbound-emails"
UNSUBSCRIBE = "<https://acme.example/u/tok>"
Handler = Callable[[httpx.Request], httpx.Response]


def provider_with(
    handler: Handler, *, configuration_set: str = "", concurrency: int = 4
) -> SesProvider:
    client = make_client(
        BASE, {"Accept": "application/json"}, transport=httpx.MockTransport(handler)
    )
    return SesProvider(
        "ses",
        client,
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        configuration_set=configuration_set,
        concurrency=concurrency,
    )


@pytest.fixture
def make_provider() -> Iterator[Callable[..., SesProvider]]:
    """Providers closed at teardown, so no pool thread outlives its test."""
    made: list[SesProvider] = []

    def make(handler: Handler, **options: Any) -> SesProvider:
        made.append(provider_with(handler, **options))
        return made[-1]

    yield make
    for provider in made:
        provider.close()


def outbound(message_id: int, to: str = "jo@news.example", **fields: Any) -> OutboundEmail:
    return outbound_email(message_id, to, unsubscribe=UNSUBSCRIBE, **fields)


def recipient_of(request: httpx.Request) -> str:
    body = json.loads(request.content)
    (to,) = body["Destination"]["ToAddresses"]
    return str(to)


def mime_of(raw_base64: str) -> EmailMessage:
    raw = base64.b64decode(raw_base64)
    return email.message_from_bytes(raw, _class=EmailMessage, policy=email.policy.default)


def accepted(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"MessageId": "ses-" + recipient_of(request)})


def aws_error(status: int, kind: str, message: str) -> httpx.Response:
    """An error as SES v2 sends it: the type in x-amzn-ErrorType and a JSON message."""
    return httpx.Response(status, headers={"x-amzn-ErrorType": kind}, json={"message": message})


# --- request shape and signature -------------------------------------------------------------


def test_request_is_sendemail_with_our_mime_as_raw_content(
    make_provider: Callable[..., SesProvider],
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"MessageId": "0100018f-abc"})

    provider = make_provider(handler, configuration_set="press-releases")
    email_ = outbound(
        7,
        to_name="Jo Reporter",
        from_name="Acme Press",
        reply_to="desk@acme.example",
        tag="spring launch!",
    )
    (result,) = provider.send_batch([email_])

    assert (result.message_id, result.accepted, result.provider_message_id) == (
        7,
        True,
        "0100018f-abc",
    )
    (request,) = seen
    assert request.method == "POST"
    assert request.url == SEND_URL
    assert request.headers["Content-Type"] == "application/json"
    body = json.loads(request.content)
    raw = body.pop("Content")["Raw"]["Data"]
    assert body == {
        "FromEmailAddress": "press@acme.example",
        "Destination": {"ToAddresses": ["jo@news.example"]},
        "EmailTags": [
            {"Name": MESSAGE_ID_KEY, "Value": "7"},
            {"Name": "distro_tag", "Value": "spring_launch_"},
        ],
        "ConfigurationSetName": "press-releases",
    }
    message = mime_of(raw)
    assert message["From"] == "Acme Press <press@acme.example>"
    assert message["To"] == "Jo Reporter <jo@news.example>"
    assert message["Reply-To"] == "desk@acme.example"
    assert message["Subject"] == "Release 7"
    assert message.get_all("List-Unsubscribe") == [UNSUBSCRIBE]
    assert message.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    parts = {
        part.get_content_type(): part.get_content().strip()
        for part in message.walk()
        if not part.is_multipart()
    }
    assert parts == {"text/plain": "News 7", "text/html": "<p>News 7</p>"}


def test_authorization_is_a_valid_sigv4_for_ses_in_the_region(
    make_provider: Callable[..., SesProvider],
) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"MessageId": "m-1"})

    make_provider(handler).send_batch([outbound(1)])
    (request,) = seen
    found = re.fullmatch(
        r"AWS4-HMAC-SHA256 Credential=([^,]+), SignedHeaders=([^,]+), Signature=([0-9a-f]{64})",
        request.headers["Authorization"],
    )
    assert found is not None
    credential, signed, signature = found.groups()
    amz_date = request.headers["X-Amz-Date"]
    assert credential == f"{ACCESS_KEY}/{amz_date[:8]}/{REGION}/ses/aws4_request"
    assert set(signed.split(";")) >= {"content-type", "host", "x-amz-date"}

    def recompute(body: bytes) -> str:
        """The signature over what actually went on the wire (headers, host and body)."""
        wire = AWSRequest(
            method=request.method,
            url=str(request.url),
            data=body,
            headers={name: request.headers[name] for name in signed.split(";")},
        )
        wire.context["timestamp"] = amz_date
        signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "ses", REGION)
        canonical = signer.canonical_request(wire)
        return signer.signature(signer.string_to_sign(wire, canonical), wire)

    assert recompute(request.content) == signature
    assert recompute(request.content + b" ") != signature


def test_default_endpoint_follows_the_region() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"MessageId": "m-1"})

    settings = make_settings(
        "sqlite://",
        providers={
            "aws": {
                "type": "ses",
                "region": "ap-southeast-2",
                "access_key_id": ACCESS_KEY,
                "secret_access_key": SECRET_KEY,
            }
        },
    )
    provider = build_provider(settings, "aws", transport=httpx.MockTransport(handler))
    try:
        assert isinstance(provider, SesProvider)
        provider.send_batch([outbound(1)])
    finally:
        provider.close()
    (request,) = seen
    assert request.url == "https://email.ap-southeast-2.amazonaws.com/v2/email/outbound-emails"
    assert "/ap-southeast-2/ses/aws4_request" in request.headers["Authorization"]
    assert "ConfigurationSetName" not in json.loads(request.content)


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "retryable", "expected"),
    [
        (aws_error(400, "MessageRejected", "Email address is not verified."), False, "verified"),
        (
            aws_error(400, "MailFromDomainNotVerifiedException", "MAIL FROM not verified"),
            False,
            "MailFromDomainNotVerified",
        ),
        (aws_error(400, "BadRequestException", "Invalid header"), False, "Invalid header"),
        (aws_error(404, "NotFoundException", "Configuration set x"), False, "NotFound"),
        (aws_error(400, "LimitExceededException", "Daily quota exceeded"), True, "quota"),
        (aws_error(400, "SendingPausedException", "Sending paused"), True, "SendingPaused"),
        # The type only in the body, in the long "namespace#Type" form.
        (
            httpx.Response(
                400, json={"__type": "com.amazonaws.sesv2#MessageRejected", "message": "Nope"}
            ),
            False,
            "MessageRejected: Nope",
        ),
        # The header in its "Type:URL" form.
        (
            aws_error(400, "LimitExceededException:http://internal.amazon.com/coral/", "slow"),
            True,
            "LimitExceeded: slow",
        ),
    ],
)
def test_aws_errors_become_that_emails_result(
    make_provider: Callable[..., SesProvider],
    response: httpx.Response,
    retryable: bool,
    expected: str,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return response if recipient_of(request) == "bad@news.example" else accepted(request)

    provider = make_provider(handler)
    results = provider.send_batch([outbound(1), outbound(2, to="bad@news.example")])

    assert [r.accepted for r in results] == [True, False]
    assert results[0].provider_message_id == "ses-jo@news.example"
    failed = results[1]
    assert failed.retryable is retryable
    assert not failed.unknown
    assert failed.error is not None
    assert expected in failed.error


def test_quota_errors_pause_the_provider(make_provider: Callable[..., SesProvider]) -> None:
    provider = make_provider(lambda r: aws_error(400, "LimitExceededException", "quota"))
    before = time.monotonic()
    (result,) = provider.send_batch([outbound(1)])
    assert result.retryable
    assert provider.resume_at >= before + 30


def test_partial_failures_keep_every_emails_own_outcome(
    make_provider: Callable[..., SesProvider],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        to = recipient_of(request)
        if to == "rejected@news.example":
            return aws_error(400, "MessageRejected", "Address blacklisted.")
        if to == "throttled@news.example":
            return aws_error(429, "TooManyRequestsException", "Maximum sending rate exceeded.")
        if to == "broken@news.example":
            return aws_error(500, "InternalFailure", "oops")
        if to == "lost@news.example":
            raise httpx.ReadTimeout("timed out", request=request)
        if to == "unreachable@news.example":
            raise httpx.ConnectError("connection refused", request=request)
        return accepted(request)

    recipients = [
        "a@news.example",
        "rejected@news.example",
        "throttled@news.example",
        "broken@news.example",
        "lost@news.example",
        "unreachable@news.example",
        "b@news.example",
    ]
    provider = make_provider(handler)
    results = provider.send_batch([outbound(i, to=to) for i, to in enumerate(recipients)])

    assert [r.message_id for r in results] == list(range(len(recipients)))
    summary = [(r.accepted, r.retryable, r.unknown) for r in results]
    assert summary == [
        (True, False, False),
        (False, False, False),  # permanent
        (False, True, False),  # 429
        (False, True, False),  # 5xx
        (False, False, True),  # the request left, the answer did not come back
        (False, True, False),  # never connected
        (True, False, False),
    ]
    assert [r.provider_message_id for r in results] == [
        "ses-a@news.example",
        None,
        None,
        None,
        None,
        None,
        "ses-b@news.example",
    ]
    assert "Address blacklisted" in (results[1].error or "")
    assert provider.resume_at > time.monotonic()  # the 429 paused the provider


def test_one_email_with_a_lost_answer_is_unknown_not_raised(
    make_provider: Callable[..., SesProvider],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.RemoteProtocolError("server disconnected", request=request)

    (result,) = make_provider(handler).send_batch([outbound(1)])
    assert result.unknown
    assert not result.accepted
    assert not result.retryable


def test_success_without_a_message_id_is_unknown(
    make_provider: Callable[..., SesProvider],
) -> None:
    (result,) = make_provider(lambda r: httpx.Response(200, text="<html>proxy</html>")).send_batch(
        [outbound(1)]
    )
    assert result.unknown
    assert not result.accepted


def test_refused_credentials_fail_the_whole_batch(
    make_provider: Callable[..., SesProvider],
) -> None:
    provider = make_provider(
        lambda r: aws_error(403, "UnrecognizedClientException", "The security token is invalid.")
    )
    with pytest.raises(PermanentProviderError) as caught:
        provider.send_batch([outbound(1), outbound(2, to="sam@news.example")])
    assert caught.value.status_code == 403
    assert not isinstance(caught.value, RetryableProviderError)


def test_nothing_reachable_fails_the_whole_batch_as_retryable(
    make_provider: Callable[..., SesProvider],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(RetryableProviderError) as caught:
        make_provider(handler).send_batch([outbound(1), outbound(2, to="sam@news.example")])
    assert caught.value.status_code is None


def test_throttled_everywhere_raises_with_the_longest_retry_after(
    make_provider: Callable[..., SesProvider],
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        wait = "9" if recipient_of(request) == "sam@news.example" else "2"
        return httpx.Response(
            429, headers={"x-amzn-ErrorType": "TooManyRequestsException", "Retry-After": wait}
        )

    with pytest.raises(RetryableProviderError) as caught:
        make_provider(handler).send_batch([outbound(1), outbound(2, to="sam@news.example")])
    assert caught.value.status_code == 429
    assert caught.value.retry_after == 9.0


def test_a_batch_runs_concurrently_within_the_limit(
    make_provider: Callable[..., SesProvider],
) -> None:
    lock = threading.Lock()
    in_flight = 0
    peak = 0
    four_at_once = threading.Event()

    def handler(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
            if in_flight == 4:
                four_at_once.set()
        # The first requests are held until four are out at once, so the peak does not depend
        # on how threads happen to be scheduled. Sending one at a time never gets there: the
        # first request gives up waiting, lets the rest through, and the peak stays at 1.
        if not four_at_once.wait(10):
            four_at_once.set()
        with lock:
            in_flight -= 1
        return accepted(request)

    provider = make_provider(handler, concurrency=4)
    emails = [outbound(i, to=f"r{i}@news.example") for i in range(12)]
    results = provider.send_batch(emails)

    assert [r.provider_message_id for r in results] == [f"ses-r{i}@news.example" for i in range(12)]
    assert peak == 4  # concurrent, and never past the limit


def test_more_than_50_are_refused_before_sending(
    make_provider: Callable[..., SesProvider],
) -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return accepted(request)

    with pytest.raises(ValueError, match="50"):
        make_provider(handler).send_batch([outbound(i) for i in range(51)])
    assert calls == []


# --- against moto's SES v2 over HTTP ---------------------------------------------------------


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        # stop() only ends serve_forever; close the listening socket too.
        wsgi = getattr(server, "_server", None)
        if wsgi is not None:
            wsgi.server_close()


@pytest.fixture
def moto_ses(moto_url: str) -> Iterator[SesProvider]:
    """A provider pointed at a freshly reset moto; closed and reset again at teardown."""
    with httpx.Client() as admin:
        admin.post(f"{moto_url}/moto-api/reset").raise_for_status()
    provider = SesProvider(
        "moto",
        make_client(moto_url, {"Accept": "application/json"}, max_connections=8),
        region=REGION,
        access_key_id=ACCESS_KEY,
        secret_access_key=SECRET_KEY,
        concurrency=8,
    )
    try:
        yield provider
    finally:
        provider.close()
        with httpx.Client() as admin:
            admin.post(f"{moto_url}/moto-api/reset").raise_for_status()


def create_identity(provider: SesProvider, identity: str) -> None:
    """CreateEmailIdentity, signed by the adapter's own signer (moto routes on the scope)."""
    url = str(provider.client.base_url.join("v2/email/identities"))
    body = json.dumps({"EmailIdentity": identity}).encode()
    response = provider.client.post(
        url, content=body, headers=provider.signed_headers("POST", url, body)
    )
    assert response.status_code == 200, response.text


def moto_messages(moto_url: str) -> list[dict[str, Any]]:
    with httpx.Client() as admin:
        data = admin.get(f"{moto_url}/moto-api/data.json").raise_for_status().json()
    messages: list[dict[str, Any]] = data["ses"]["RawMessage"]
    return messages


def test_batch_through_moto(moto_ses: SesProvider, moto_url: str) -> None:
    """Each recipient gets exactly one message, with our subject, headers and both parts.

    moto does not check signatures or configuration sets, and does not echo EmailTags; those are
    covered by the mock-transport tests above.
    """
    create_identity(moto_ses, "press@acme.example")
    emails = [
        outbound(100 + i, to=f"journalist{i}@news.example", from_name="Acme Press")
        for i in range(20)
    ]
    emails.append(outbound(200, to="x@news.example", from_email="someone@elsewhere.example"))
    results = moto_ses.send_batch(emails)

    assert all(r.accepted for r in results[:20])
    refused = results[20]
    assert not refused.accepted
    assert not refused.retryable
    assert "MessageRejected" in (refused.error or "")

    stored = moto_messages(moto_url)
    by_id = {m["id"]: m for m in stored}
    per_recipient: dict[str, int] = {}
    for message in stored:
        mime = email.message_from_string(
            message["raw_data"], _class=EmailMessage, policy=email.policy.default
        )
        # moto lists the envelope address and the To header: one message, one recipient.
        (recipient,) = {address for _, address in email.utils.getaddresses(message["destinations"])}
        per_recipient[recipient] = per_recipient.get(recipient, 0) + 1
        number = int(recipient.removeprefix("journalist").partition("@")[0])
        assert mime["Subject"] == f"Release {100 + number}"
        assert mime["From"] == "Acme Press <press@acme.example>"
        assert mime.get_all("List-Unsubscribe") == [UNSUBSCRIBE]
        assert mime.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
        assert message["source"] == "press@acme.example"
    assert per_recipient == {f"journalist{i}@news.example": 1 for i in range(20)}
    assert {r.provider_message_id for r in results[:20]} == set(by_id)


def test_unverified_sender_through_moto(moto_ses: SesProvider, moto_url: str) -> None:
    """Without CreateEmailIdentity every message is refused for good, one result each."""
    results = moto_ses.send_batch([outbound(1), outbound(2, to="sam@news.example")])
    assert [(r.accepted, r.retryable, r.unknown) for r in results] == [(False, False, False)] * 2
    assert all("not" in (r.error or "") for r in results)
    assert moto_messages(moto_url) == []
