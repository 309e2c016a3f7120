"""Provider webhook signatures: each scheme signs and verifies, and rejects what it should."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from distro.tracking import signatures as sig
from distro.tracking import sns_signatures as sns_sig

NOW = 1_700_000_000.0
BODY = b'[{"email":"jo@news.example","event":"delivered"}]'


# --- SendGrid ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sendgrid_keys() -> tuple[str, str]:
    return sig.generate_sendgrid_key()


def test_sendgrid_public_key_is_base64_der_p256(sendgrid_keys: tuple[str, str]) -> None:
    private_pem, public = sendgrid_keys
    key = serialization.load_der_public_key(base64.b64decode(public))
    assert isinstance(key, ec.EllipticCurvePublicKey)
    assert key.curve.name == "secp256r1"
    assert "BEGIN" not in public
    assert sig.sendgrid_public_key(private_pem) == public


def test_sendgrid_signature_verifies(sendgrid_keys: tuple[str, str]) -> None:
    private_pem, public = sendgrid_keys
    timestamp = str(int(NOW))
    signature = sig.sign_sendgrid(private_pem, timestamp, BODY)
    assert sig.verify_sendgrid(public, timestamp, BODY, signature)
    assert sig.verify_sendgrid(public, timestamp, BODY, signature, max_age=300, now=NOW + 299)


def test_sendgrid_rejects_tampering_wrong_key_and_bad_times(
    sendgrid_keys: tuple[str, str],
) -> None:
    private_pem, public = sendgrid_keys
    timestamp = str(int(NOW))
    signature = sig.sign_sendgrid(private_pem, timestamp, BODY)
    other_public = sig.generate_sendgrid_key()[1]
    assert not sig.verify_sendgrid(public, timestamp, BODY + b" ", signature)
    assert not sig.verify_sendgrid(public, str(int(NOW) + 1), BODY, signature)
    assert not sig.verify_sendgrid(other_public, timestamp, BODY, signature)
    assert not sig.verify_sendgrid(public, timestamp, BODY, signature, max_age=300, now=NOW + 301)
    assert not sig.verify_sendgrid(public, timestamp, BODY, signature, max_age=300, now=NOW - 301)


@pytest.mark.parametrize(
    ("public", "timestamp", "signature"),
    [
        pytest.param(None, "1700000000", "not base64!", id="signature-not-base64"),
        pytest.param(None, "1700000000", "", id="signature-empty"),
        pytest.param(None, "1700000000", base64.b64encode(b"junk").decode(), id="signature-junk"),
        pytest.param(None, "soon", None, id="timestamp-not-a-number"),
        pytest.param("bm90IGEga2V5", "1700000000", None, id="public-key-junk"),
        pytest.param("%%%", "1700000000", None, id="public-key-not-base64"),
    ],
)
def test_sendgrid_rejects_malformed_input(
    sendgrid_keys: tuple[str, str], public: str | None, timestamp: str, signature: str | None
) -> None:
    private_pem, good_public = sendgrid_keys
    good_signature = sig.sign_sendgrid(private_pem, timestamp, BODY)
    assert not sig.verify_sendgrid(
        public or good_public, timestamp, BODY, good_signature if signature is None else signature
    )


def test_sendgrid_rejects_a_key_that_is_not_ecdsa() -> None:
    rsa_pem = sns_sig.generate_sns_key()
    with pytest.raises(ValueError, match="P-256"):
        sig.load_sendgrid_private_key(rsa_pem)


# --- Mailgun -------------------------------------------------------------------------------

MAILGUN_KEY = "key-mailgun-test"


def test_mailgun_signature_is_hex_hmac_of_timestamp_and_token() -> None:
    expected = hmac.new(MAILGUN_KEY.encode(), b"1700000000tok", hashlib.sha256).hexdigest()
    assert sig.sign_mailgun(MAILGUN_KEY, "1700000000", "tok") == expected


def test_mailgun_signature_verifies() -> None:
    signed = sig.mailgun_signature(MAILGUN_KEY, now=NOW)
    assert len(signed["token"]) == 50
    assert signed["timestamp"] == str(int(NOW))
    args = (signed["timestamp"], signed["token"], signed["signature"])
    assert sig.verify_mailgun(MAILGUN_KEY, *args)
    assert sig.verify_mailgun(MAILGUN_KEY, *args, max_age=300, now=NOW + 300)
    assert sig.verify_mailgun(MAILGUN_KEY, args[0], args[1], args[2].upper())


def test_mailgun_tokens_are_fresh() -> None:
    assert (
        sig.mailgun_signature(MAILGUN_KEY)["token"] != sig.mailgun_signature(MAILGUN_KEY)["token"]
    )


def test_mailgun_rejects_tampering_wrong_key_and_bad_times() -> None:
    signed = sig.mailgun_signature(MAILGUN_KEY, now=NOW)
    timestamp, token, signature = signed["timestamp"], signed["token"], signed["signature"]
    assert not sig.verify_mailgun(MAILGUN_KEY, timestamp, token + "x", signature)
    assert not sig.verify_mailgun(MAILGUN_KEY, str(int(NOW) + 1), token, signature)
    assert not sig.verify_mailgun("another-key", timestamp, token, signature)
    assert not sig.verify_mailgun(
        MAILGUN_KEY, timestamp, token, signature, max_age=60, now=NOW + 61
    )
    assert not sig.verify_mailgun(
        MAILGUN_KEY, timestamp, token, signature, max_age=60, now=NOW - 61
    )


@pytest.mark.parametrize(
    ("timestamp", "token", "signature"),
    [
        pytest.param("soon", "tok", None, id="timestamp-not-a-number"),
        pytest.param("1700000000", "", None, id="empty-token"),
        pytest.param("1700000000", "tok", "", id="empty-signature"),
        pytest.param("1700000000", "tok", "zz", id="signature-not-hex"),
    ],
)
def test_mailgun_rejects_malformed_input(timestamp: str, token: str, signature: str | None) -> None:
    good = sig.sign_mailgun(MAILGUN_KEY, timestamp, token)
    assert not sig.verify_mailgun(
        MAILGUN_KEY, timestamp, token, good if signature is None else signature
    )


def test_mailgun_never_verifies_with_an_empty_key() -> None:
    signature = sig.sign_mailgun("", "1700000000", "tok")
    assert not sig.verify_mailgun("", "1700000000", "tok", signature)


# --- Svix (Resend) -------------------------------------------------------------------------

SVIX_SECRET = "whsec_" + base64.b64encode(b"a svix test secret, 24+ bytes").decode()
MSG_ID = "msg_2W2D3qXLS5fOaPja1GDg7rF2CwB"


def _svix(secret: str = SVIX_SECRET, now: float = NOW) -> dict[str, str]:
    return sig.svix_headers(secret, MSG_ID, BODY, now=now)


def test_svix_signature_is_base64_hmac_of_id_timestamp_body() -> None:
    headers = _svix()
    key = base64.b64decode(SVIX_SECRET.removeprefix("whsec_"))
    digest = hmac.new(key, f"{MSG_ID}.{int(NOW)}.".encode() + BODY, hashlib.sha256).digest()
    assert headers == {
        "svix-id": MSG_ID,
        "svix-timestamp": str(int(NOW)),
        "svix-signature": "v1," + base64.b64encode(digest).decode(),
    }


def _verify(headers: dict[str, str], body: bytes = BODY, **kwargs: Any) -> bool:
    kwargs.setdefault("now", NOW)
    return sig.verify_svix(
        kwargs.pop("secret", SVIX_SECRET),
        headers["svix-id"],
        headers["svix-timestamp"],
        headers["svix-signature"],
        body,
        **kwargs,
    )


def test_svix_signature_verifies_within_five_minutes_both_ways() -> None:
    headers = _svix()
    assert _verify(headers)
    assert _verify(headers, now=NOW + 300)
    assert _verify(headers, now=NOW - 300)
    assert not _verify(headers, now=NOW + 301)  # stale
    assert not _verify(headers, now=NOW - 301)  # from the future


def test_svix_accepts_any_matching_entry_of_a_list() -> None:
    headers = _svix()
    other = _svix(secret="whsec_" + base64.b64encode(b"an older rotated secret").decode())
    headers["svix-signature"] = f"v1,bm9wZQ== {other['svix-signature']} {headers['svix-signature']}"
    assert _verify(headers)


def test_svix_secret_without_prefix_is_the_same_key() -> None:
    assert _verify(_svix(), secret=SVIX_SECRET.removeprefix("whsec_"))


def test_svix_rejects_tampering_and_wrong_secret() -> None:
    headers = _svix()
    assert not _verify(headers, body=BODY + b" ")
    assert not _verify({**headers, "svix-id": "msg_other"})
    assert not _verify({**headers, "svix-timestamp": str(int(NOW) + 1)}, now=NOW)
    assert not _verify(headers, secret="whsec_" + base64.b64encode(b"wrong secret").decode())


@pytest.mark.parametrize(
    "signature",
    ["", "v1", "v1,", "v1,%%%", "v2,{good}", "{good}", "v1;{good}"],
)
def test_svix_rejects_malformed_signature_headers(signature: str) -> None:
    headers = _svix()
    good = headers["svix-signature"].partition(",")[2]
    assert not _verify({**headers, "svix-signature": signature.format(good=good)})


@pytest.mark.parametrize("timestamp", ["", "soon", "1.7e9", "-1700000000"])
def test_svix_rejects_malformed_timestamps(timestamp: str) -> None:
    assert not _verify({**_svix(), "svix-timestamp": timestamp})


def test_svix_refuses_to_sign_with_a_malformed_secret() -> None:
    with pytest.raises(ValueError, match="whsec_"):
        sig.sign_svix("whsec_%%%", MSG_ID, "1", BODY)
    assert not _verify(_svix(), secret="whsec_%%%")


# --- SNS -----------------------------------------------------------------------------------

TOPIC = "arn:aws:sns:us-east-2:123456789012:s4-MySNSTopic"


def notification(**fields: str) -> dict[str, str]:
    message = {
        "Type": "Notification",
        "MessageId": "4d4dc071-ddbf-465d-bba8-08f81c89da64",
        "TopicArn": TOPIC,
        "Message": '{"eventType":"Delivery"}\nsecond line',
        "Timestamp": "2019-01-31T04:37:04.321Z",
        "SignatureVersion": "1",
    }
    message.update(fields)
    return message


@pytest.fixture(scope="module")
def sns_key() -> str:
    return sns_sig.generate_sns_key()


@pytest.fixture(scope="module")
def sns_cert(sns_key: str) -> str:
    return sns_sig.self_signed_certificate(sns_key)


def test_sns_string_to_sign_for_a_notification() -> None:
    expected = (
        'Message\n{"eventType":"Delivery"}\nsecond line\n'
        "MessageId\n4d4dc071-ddbf-465d-bba8-08f81c89da64\n"
        "Subject\nMy subject\n"
        "Timestamp\n2019-01-31T04:37:04.321Z\n"
        f"TopicArn\n{TOPIC}\n"
        "Type\nNotification\n"
    )
    assert sns_sig.sns_string_to_sign(notification(Subject="My subject")) == expected.encode()
    without_subject = expected.replace("Subject\nMy subject\n", "")
    assert sns_sig.sns_string_to_sign(notification()) == without_subject.encode()


def test_sns_string_to_sign_for_a_subscription_confirmation() -> None:
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "3d891288-136d-417f-bc05-901c108273ee",
        "Token": "2336412f37",
        "TopicArn": TOPIC,
        "Message": "You have chosen to subscribe to the topic.",
        "SubscribeURL": "https://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription",
        "Timestamp": "2019-01-31T19:25:13.719Z",
        "Subject": "ignored: not part of a confirmation's string to sign",
    }
    expected = (
        "Message\nYou have chosen to subscribe to the topic.\n"
        "MessageId\n3d891288-136d-417f-bc05-901c108273ee\n"
        "SubscribeURL\nhttps://sns.us-east-2.amazonaws.com/?Action=ConfirmSubscription\n"
        "Timestamp\n2019-01-31T19:25:13.719Z\n"
        "Token\n2336412f37\n"
        f"TopicArn\n{TOPIC}\n"
        "Type\nSubscriptionConfirmation\n"
    )
    assert sns_sig.sns_string_to_sign(message) == expected.encode()


@pytest.mark.parametrize(
    "message",
    [
        pytest.param({**notification(), "Type": "Other"}, id="unknown-type"),
        pytest.param({k: v for k, v in notification().items() if k != "Timestamp"}, id="missing"),
        pytest.param({**notification(), "Message": 5}, id="not-a-string"),
    ],
)
def test_sns_string_to_sign_refuses_malformed_messages(message: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="SNS"):
        sns_sig.sns_string_to_sign(message)


@pytest.mark.parametrize("version", ["1", "2"])
def test_sns_signature_verifies_with_the_certificate(
    sns_key: str, sns_cert: str, version: str
) -> None:
    message = notification(SignatureVersion=version)
    message["Signature"] = sns_sig.sign_sns(message, sns_key, version)
    assert sns_sig.verify_sns(message, sns_cert)
    assert sns_sig.verify_sns(message, sns_cert.encode())


def test_sns_rejects_tampering_wrong_key_and_version_mismatch(sns_key: str, sns_cert: str) -> None:
    message = notification()
    message["Signature"] = sns_sig.sign_sns(message, sns_key, "1")
    other_cert = sns_sig.self_signed_certificate(sns_sig.generate_sns_key())
    assert not sns_sig.verify_sns({**message, "Message": "tampered"}, sns_cert)
    assert not sns_sig.verify_sns({**message, "Subject": "added"}, sns_cert)
    assert not sns_sig.verify_sns(message, other_cert)
    assert not sns_sig.verify_sns({**message, "SignatureVersion": "2"}, sns_cert)


@pytest.mark.parametrize(
    ("fields", "certificate"),
    [
        pytest.param({"SignatureVersion": "3"}, None, id="unknown-version"),
        pytest.param({"Signature": "%%%"}, None, id="signature-not-base64"),
        pytest.param({"Signature": ""}, None, id="signature-empty"),
        pytest.param({"Type": "Other"}, None, id="unknown-type"),
        pytest.param({}, "not a certificate", id="certificate-junk"),
    ],
)
def test_sns_rejects_malformed_messages(
    sns_key: str, sns_cert: str, fields: dict[str, str], certificate: str | None
) -> None:
    message = notification()
    message["Signature"] = sns_sig.sign_sns(message, sns_key, "1")
    message.update(fields)
    assert not sns_sig.verify_sns(message, certificate or sns_cert)


def test_sns_rejects_a_message_without_a_signature(sns_cert: str) -> None:
    assert not sns_sig.verify_sns(notification(), sns_cert)


def test_sns_refuses_to_sign_an_unknown_version(sns_key: str) -> None:
    with pytest.raises(ValueError, match="SignatureVersion"):
        sns_sig.sign_sns(notification(), sns_key, "3")


def test_self_signed_certificate_holds_the_key(sns_key: str, sns_cert: str) -> None:
    certificate = x509.load_pem_x509_certificate(sns_cert.encode())
    public = serialization.load_pem_private_key(sns_key.encode(), None).public_key()
    assert certificate.public_key() == public
    assert certificate.not_valid_after_utc.timestamp() > time.time()


@pytest.mark.parametrize(
    "url",
    [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
        "https://sns.eu-central-1.amazonaws.com/SimpleNotificationService-abc.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-abc.pem",
    ],
)
def test_sns_cert_urls_on_aws_are_trusted(url: str) -> None:
    assert sns_sig.is_trusted_sns_cert_url(url)


@pytest.mark.parametrize(
    "url",
    [
        pytest.param("http://sns.us-east-1.amazonaws.com/cert.pem", id="plain-http"),
        pytest.param("https://sns.us-east-1.amazonaws.com.evil.example/cert.pem", id="suffix"),
        pytest.param("https://evil.example/sns.us-east-1.amazonaws.com.pem", id="foreign-host"),
        pytest.param("https://sns.us-east-1.amazonaws.com@evil.example/c.pem", id="userinfo"),
        pytest.param("https://sns.us-east-1.amazonaws.com:8443/cert.pem", id="port"),
        pytest.param("https://sns.us-east-1.amazonaws.com/cert.txt", id="not-pem"),
        pytest.param("https://s3.amazonaws.com/cert.pem", id="other-aws-service"),
        pytest.param("https://sns.x.amazonaws.com/cert.pem", id="region-too-short"),
        pytest.param("https://evilsns.us-east-1.amazonaws.com/cert.pem", id="prefix"),
        pytest.param("https://[::1/cert.pem", id="unparsable"),
        pytest.param("", id="empty"),
    ],
)
def test_sns_cert_urls_elsewhere_are_not(url: str) -> None:
    assert not sns_sig.is_trusted_sns_cert_url(url)


def test_sns_cert_url_allow_list_is_exact() -> None:
    sandbox = "http://127.0.0.1:8025/sandbox/keys/sns-cert.pem"
    assert not sns_sig.is_trusted_sns_cert_url(sandbox)
    assert sns_sig.is_trusted_sns_cert_url(sandbox, trusted=[sandbox])
    assert not sns_sig.is_trusted_sns_cert_url(sandbox + "?x", trusted=[sandbox])
    assert not sns_sig.is_trusted_sns_cert_url("http://127.0.0.1:8025/", trusted=[sandbox])


# --- Postmark Basic auth -------------------------------------------------------------------


def basic(credentials: str) -> str:
    return "Basic " + base64.b64encode(credentials.encode()).decode()


PAIRS = [("hooks", "s3cret"), ("other", "pa:ss")]


@pytest.mark.parametrize(
    "header", [basic("hooks:s3cret"), basic("other:pa:ss"), "basic " + basic("hooks:s3cret")[6:]]
)
def test_basic_auth_accepts_configured_pairs(header: str) -> None:
    assert sig.check_basic_auth(header, PAIRS)


@pytest.mark.parametrize(
    "header",
    [
        basic("hooks:wrong"),
        basic("wrong:s3cret"),
        basic("hooks:pa:ss"),
        basic("hooks"),
        "Basic %%%",
        "Bearer " + base64.b64encode(b"hooks:s3cret").decode(),
        "",
    ],
)
def test_basic_auth_rejects_anything_else(header: str) -> None:
    assert not sig.check_basic_auth(header, PAIRS)


def test_basic_auth_never_accepts_an_empty_password() -> None:
    assert not sig.check_basic_auth(basic("hooks:"), [("hooks", "")])
