"""SNS certificate fetching through the live webhook route: a forged message with the configured
TopicArn is refused by every check that needs no request before any certificate is fetched; a
certificate that cannot be had is a 403, remembered, and fetches are bounded; good certificates
are fetched once. AWS is a mock transport that counts requests (the network edge)."""

from __future__ import annotations

import base64
import threading
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from distro.tracking import sns
from distro.tracking import sns_signatures as sns_sig
from tests.test_webhooks_ses import (
    CERT_URL,
    SES_PROVIDERS,
    TOPIC,
    AwsEdge,
    mail,
    notification,
    post,
    rsa_key,
)
from tests.test_webhooks_support import Live, LiveFactory, event_count, live_factory

__all__ = ["live_factory", "rsa_key"]  # fixtures, imported for pytest

SEND = {"eventType": "Send", "mail": mail(["ana@news.example"], 77), "send": {}}
HOST = "https://sns.eu-west-1.amazonaws.com"


class Aws(AwsEdge):
    """AWS's edge, also noting each request's timeouts, and as slow as ``delay``."""

    def __init__(self, certificate: str) -> None:
        super().__init__(certificate)
        self.delay = 0.0
        self.timeouts: list[Any] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.timeouts.append(request.extensions.get("timeout"))
        time.sleep(self.delay)
        return super().__call__(request)


@pytest.fixture
def aws(rsa_key: str) -> Aws:
    return Aws(sns_sig.self_signed_certificate(rsa_key, "sns.amazonaws.com"))


@pytest.fixture
def live(engine: Engine, live_factory: LiveFactory, aws: Aws) -> Live:
    return live_factory(engine, transport=httpx.MockTransport(aws), providers=SES_PROVIDERS)


def cert_fetches(aws: Aws) -> list[str]:
    return [url for url in aws.requests if url.endswith(".pem")]


def resigned(message: dict[str, Any], key: str, **changes: Any) -> dict[str, Any]:
    """``message`` with ``changes``, signed again, so only the changed part is wrong."""
    changed = {**message, **changes}
    changed["Signature"] = sns_sig.sign_sns(changed, key, str(changed["SignatureVersion"]))
    return changed


def test_forged_messages_are_refused_before_any_certificate_is_fetched(
    live: Live, rsa_key: str, aws: Aws
) -> None:
    good = notification(rsa_key, SEND)
    now = datetime.now(UTC)
    no_message_id = {k: v for k, v in good.items() if k != "MessageId"}
    cases: dict[str, dict[str, Any]] = {
        "another region's host": good
        | {"SigningCertURL": CERT_URL.replace("eu-west-1", "us-east-1")},
        "a query on the URL": good | {"SigningCertURL": CERT_URL + "?x=1"},
        "not a .pem": good | {"SigningCertURL": CERT_URL.replace(".pem", ".crt")},
        "over http": good | {"SigningCertURL": CERT_URL.replace("https", "http")},
        "a port": good | {"SigningCertURL": CERT_URL.replace(".com/", ".com:8443/")},
        "a signed field missing": no_message_id,
        "a field that is not text": good | {"Message": {"eventType": "Send"}},
        "unknown SignatureVersion": good | {"SignatureVersion": "3"},
        "Signature not base64": good | {"Signature": "not base64 at all!"},
        "Signature too short": good | {"Signature": base64.b64encode(b"x" * 10).decode()},
        "Signature missing": {k: v for k, v in good.items() if k != "Signature"},
        "stale": resigned(good, rsa_key, Timestamp=(now - timedelta(hours=2)).isoformat()),
        "from the future": resigned(
            good, rsa_key, Timestamp=(now + timedelta(hours=2)).isoformat()
        ),
        "unknown Type": good | {"Type": "Teleport"},
    }
    for name, message in cases.items():
        answer = post(live, message)
        assert answer.status_code == 401, name
    assert aws.requests == []
    assert event_count(live.engine) == 0
    assert post(live, good).status_code == 200  # the same message, untouched, is fine
    assert cert_fetches(aws) == [CERT_URL]


def test_an_unfetchable_certificate_is_403_and_not_fetched_again(
    live: Live, rsa_key: str, aws: Aws
) -> None:
    aws.failing = True
    forged = notification(rsa_key, SEND, cert_url=f"{HOST}/SimpleNotificationService-forged.pem")
    answers = [post(live, forged).status_code for _ in range(12)]
    assert answers == [403] * 12
    assert cert_fetches(aws) == [f"{HOST}/SimpleNotificationService-forged.pem"]
    assert event_count(live.engine) == 0


def test_a_flood_of_new_certificate_urls_is_bounded(live: Live, rsa_key: str, aws: Aws) -> None:
    for number in range(sns.FETCHES_PER_MINUTE + 6):
        url = f"{HOST}/SimpleNotificationService-{number:032x}.pem"
        assert post(live, notification(rsa_key, SEND, cert_url=url)).status_code == 403
    assert len(cert_fetches(aws)) == sns.FETCHES_PER_MINUTE


def test_concurrent_messages_naming_one_certificate_fetch_it_once(
    live: Live, rsa_key: str, aws: Aws
) -> None:
    slow = f"{HOST}/SimpleNotificationService-slow.pem"
    aws.failing = True
    aws.delay = 0.3  # the other requests arrive while the first fetch is still out
    forged = notification(rsa_key, SEND, cert_url=slow)
    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda: answers.append(post(live, forged).status_code))
        for _ in range(6)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers == [403] * 6
    assert cert_fetches(aws) == [slow]


def test_a_good_certificate_is_fetched_once_with_a_short_timeout(
    live: Live, rsa_key: str, aws: Aws
) -> None:
    for number in range(5):
        event = {**SEND, "mail": mail([f"r{number}@news.example"], 100 + number)}
        assert post(live, notification(rsa_key, event)).status_code == 200
    assert cert_fetches(aws) == [CERT_URL]
    assert aws.timeouts
    assert all(t["read"] <= 5 and t["connect"] <= 5 for t in aws.timeouts)


def test_failures_are_forgotten_after_a_while_and_the_budget_refills(rsa_key: str) -> None:
    now = [1000.0]
    requests: list[str] = []
    certificate = sns_sig.self_signed_certificate(rsa_key, "sns.amazonaws.com")

    def edge(request: httpx.Request) -> httpx.Response:
        requests.append(str(request.url))
        return httpx.Response(200, text=certificate) if len(requests) > 1 else httpx.Response(503)

    client = sns.SnsClient(httpx.MockTransport(edge), clock=lambda: now[0])
    message = notification(rsa_key, SEND)
    for _ in range(3):
        with pytest.raises(sns.SnsUnverified) as caught:
            client.verify(message, max_age=3600)
        assert caught.value.status == 403
    assert requests == [CERT_URL]
    now[0] += sns.FAILED_FOR
    client.verify(message, max_age=3600)  # AWS serves it again: fetched, verified, cached
    client.verify(message, max_age=3600)
    assert requests == [CERT_URL, CERT_URL]


def test_sns_host_follows_the_topic_region() -> None:
    assert sns.sns_host(TOPIC) == "sns.eu-west-1.amazonaws.com"
    assert sns.sns_host("arn:aws-cn:sns:cn-north-1:123456789012:t") == (
        "sns.cn-north-1.amazonaws.com.cn"
    )
    assert sns.sns_host("arn:aws:sns:eu-west-1:123:x") is None
    assert sns.sns_host(None) is None
