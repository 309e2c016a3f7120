"""A batch prepared per provider and handed over (distro.sending.provider_call), checked on the
request a real adapter builds, at its network edge (``httpx.MockTransport``)."""

from __future__ import annotations

import base64
import email
import email.policy
import json

import httpx

from distro.providers.base import OutboundEmail
from distro.providers.ses import SesProvider
from distro.sending.provider_call import hand_over
from tests.test_provider_postmark import outbound, provider_with

JOSE = "josé.lópez@elnuevoherald.com"


def test_postmark_gets_the_others_with_utf8_names_and_ascii_domains() -> None:
    bodies: list[list[dict[str, str]]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        batch = json.loads(request.content)
        bodies.append(batch)
        answers = [{"ErrorCode": 0, "MessageID": f"pm-{i}"} for i, _ in enumerate(batch)]
        return httpx.Response(200, json=answers)

    emails: list[OutboundEmail] = [
        outbound(1, JOSE, to_name="José López"),
        outbound(2, "bjorn@news.example", to_name="Björn Hernández"),
        outbound(3, "redaktion@bücher.de", to_name="Redaktion", from_name="Presse, Acme"),
    ]
    results, _ = hand_over(provider_with(handler), emails, "")
    by_id = {r.message_id: r for r in results}
    assert not by_id[1].accepted
    assert "does not accept a non-ASCII local part" in (by_id[1].error or "")
    assert by_id[2].accepted
    assert by_id[3].accepted
    (batch,) = bodies
    assert [m["To"] for m in batch] == [
        "Björn Hernández <bjorn@news.example>",
        "Redaktion <redaktion@xn--bcher-kva.de>",
    ]
    assert batch[1]["From"] == '"Presse, Acme" <press@acme.example>'
    assert not any("=?" in m["To"] + m["From"] for m in batch)


def test_ses_raw_mime_encodes_the_name_and_the_domain() -> None:
    sent: list[dict[str, object]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"MessageId": "ses-1"})

    client = httpx.Client(
        base_url="https://email.eu-west-1.amazonaws.com", transport=httpx.MockTransport(handler)
    )
    provider = SesProvider(
        "ses", client, region="eu-west-1", access_key_id="AKIDEXAMPLE", secret_access_key="secret"
    )
    results, _ = hand_over(
        provider,
        [outbound(7, "redaktion@bücher.de", to_name="Björn Hernández"), outbound(8, JOSE)],
        "",
    )
    assert {r.message_id: r.accepted for r in results} == {7: True, 8: False}
    (payload,) = sent
    assert payload["Destination"] == {"ToAddresses": ["redaktion@xn--bcher-kva.de"]}
    raw = base64.b64decode(payload["Content"]["Raw"]["Data"])  # type: ignore[index]
    assert raw.isascii()
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    (to,) = parsed["To"].addresses
    assert (to.display_name, to.addr_spec) == ("Björn Hernández", "redaktion@xn--bcher-kva.de")
