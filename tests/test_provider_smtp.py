"""SmtpProvider against a real SMTP server (aiosmtpd on loopback): refusals, lost answers, TLS."""

from __future__ import annotations

import asyncio
import email
import email.policy
import ipaddress
import socket
import ssl
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SMTPServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509

from distro.errors import PermanentProviderError, RetryableProviderError
from distro.providers import build_provider
from distro.providers.base import HttpProvider, OutboundEmail
from distro.providers.smtp import MESSAGE_ID_HEADER, Security, SmtpProvider
from tests.conftest import make_settings
from tests.factories import outbound_email
from tests.tls_support import self_signed

# aiosmtpd warns (as it should) when a test relay takes AUTH without TLS; that is on purpose here.
pytestmark = pytest.mark.filterwarnings(
    "ignore:Requiring AUTH while not requiring TLS:UserWarning:aiosmtpd.smtp"
)

UNSUBSCRIBE = "<https://acme.example/u/tok>, <mailto:unsub@acme.example?subject=tok>"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    connection: int
    tls: bool


@dataclass
class Relay:
    """Records what arrives; refuses chosen recipients at RCPT or DATA, or drops the line."""

    received: list[Received] = field(default_factory=list)
    rcpt_replies: dict[str, str] = field(default_factory=dict)
    data_replies: dict[str, str] = field(default_factory=dict)
    # Recipients whose message is stored, after which the connection drops without an answer.
    drop_after_data: set[str] = field(default_factory=set)

    async def handle_RCPT(
        self,
        server: SMTPServer,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.rcpt_replies:
            return self.rcpt_replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTPServer, session: Session, envelope: Envelope) -> str:
        (recipient,) = envelope.rcpt_tos
        if recipient in self.data_replies:
            return self.data_replies[recipient]
        content = envelope.original_content or b""
        parsed = email.message_from_bytes(content, _class=EmailMessage, policy=email.policy.default)
        assert isinstance(envelope.mail_from, str)
        assert server.transport is not None
        # STARTTLS fills session.ssl; implicit TLS shows only on the transport.
        tls = session.ssl is not None or server.transport.get_extra_info("ssl_object") is not None
        self.received.append(
            Received(envelope.mail_from, list(envelope.rcpt_tos), parsed, id(session), tls)
        )
        if recipient in self.drop_after_data:
            assert isinstance(server.transport, asyncio.Transport)
            server.transport.abort()
        return "250 Message accepted for delivery"


class _Controller(Controller):
    """aiosmtpd's controller on an OS-chosen port (it otherwise needs the port up front)."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]  # untyped in aiosmtpd


ServerFactory = Callable[..., tuple[Relay, int]]


@pytest.fixture
def smtp_server() -> Iterator[ServerFactory]:
    """Start relays on 127.0.0.1 with the given aiosmtpd options; all stopped at teardown."""
    controllers: list[Controller] = []

    def start(**options: Any) -> tuple[Relay, int]:
        relay = Relay()
        controller = _Controller(relay, hostname="127.0.0.1", port=0, **options)
        controller.start()
        controllers.append(controller)
        return relay, controller.port

    yield start
    for controller in controllers:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    """A self-signed certificate for 127.0.0.1: (cert file, key file, PEM to trust)."""
    address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
    return self_signed(tmp_path_factory.mktemp("tls"), "127.0.0.1", address)


def server_context(certificate: tuple[Path, Path, str]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate[0], certificate[1])
    return context


def provider_for(port: int, *, security: Security = "none", **options: Any) -> SmtpProvider:
    return SmtpProvider(
        "relay",
        host="127.0.0.1",
        port=port,
        security=security,
        timeout=5.0,
        local_hostname="sender.test",
        **options,
    )


def outbound(message_id: int, to: str = "jo@news.example", **fields: Any) -> OutboundEmail:
    return outbound_email(message_id, to, unsubscribe=UNSUBSCRIBE, **fields)


def bodies(message: EmailMessage) -> dict[str, str]:
    return {
        part.get_content_type(): part.get_content().strip()
        for part in message.walk()
        if not part.is_multipart()
    }


def test_batch_goes_over_one_connection_with_headers_and_both_parts(
    smtp_server: ServerFactory,
) -> None:
    relay, port = smtp_server()
    emails = [
        outbound(
            7,
            to_name="Jo Reporter",
            from_name="Acme Press",
            reply_to="desk@acme.example",
        ),
        outbound(8, to="sam@news.example"),
        outbound(9, to="ali@news.example"),
    ]
    results = provider_for(port).send_batch(emails)

    assert [(r.message_id, r.accepted, r.retryable, r.unknown) for r in results] == [
        (7, True, False, False),
        (8, True, False, False),
        (9, True, False, False),
    ]
    assert [(m.mail_from, m.rcpt_tos) for m in relay.received] == [
        ("press@acme.example", ["jo@news.example"]),
        ("press@acme.example", ["sam@news.example"]),
        ("press@acme.example", ["ali@news.example"]),
    ]
    assert len({m.connection for m in relay.received}) == 1
    first = relay.received[0].message
    assert first["From"] == "Acme Press <press@acme.example>"
    assert first["To"] == "Jo Reporter <jo@news.example>"
    assert first["Reply-To"] == "desk@acme.example"
    assert first["Subject"] == "Release 7"
    # Exactly one of each (RFC 8058); a long value may be folded, hence strip().
    assert [v.strip() for v in first.get_all("List-Unsubscribe", [])] == [UNSUBSCRIBE]
    assert first.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]
    assert first.get_content_type() == "multipart/alternative"
    assert bodies(first) == {"text/plain": "News 7", "text/html": "<p>News 7</p>"}
    for result, received, sent in zip(results, relay.received, emails, strict=True):
        assert received.message.get_all(MESSAGE_ID_HEADER) == [str(sent.message_id)]
        assert result.provider_message_id == received.message["Message-ID"]
        assert result.provider_message_id is not None
        assert f"distro.{sent.message_id}" in result.provider_message_id


def test_refusals_are_per_message_by_reply_class(smtp_server: ServerFactory) -> None:
    relay, port = smtp_server()
    relay.rcpt_replies = {
        "gone@news.example": "550 5.1.1 No such user",
        "busy@news.example": "451 4.3.0 Mailbox busy, try later",
    }
    relay.data_replies = {
        "spam@news.example": "554 5.7.1 Message refused as spam",
        "full@news.example": "452 4.2.2 Mailbox full",
    }
    recipients = [
        "a@news.example",
        "gone@news.example",
        "busy@news.example",
        "spam@news.example",
        "full@news.example",
        "b@news.example",
    ]
    results = provider_for(port).send_batch(
        [outbound(i, to=to) for i, to in enumerate(recipients, start=1)]
    )

    assert [r.message_id for r in results] == [1, 2, 3, 4, 5, 6]
    assert [r.accepted for r in results] == [True, False, False, False, False, True]
    assert [r.retryable for r in results] == [False, False, True, False, True, False]
    assert not any(r.unknown for r in results)
    errors = [r.error or "" for r in results]
    assert "550" in errors[1]
    assert "No such user" in errors[1]
    assert "451" in errors[2]
    assert "554" in errors[3]
    assert "DATA" in errors[3]
    assert [m.rcpt_tos for m in relay.received] == [["a@news.example"], ["b@news.example"]]
    # Refusals do not cost the connection: everything went over one.
    assert len({m.connection for m in relay.received}) == 1


def test_lost_answer_after_data_is_unknown_and_the_rest_still_go(
    smtp_server: ServerFactory,
) -> None:
    relay, port = smtp_server()
    relay.drop_after_data = {"dropped@news.example"}
    emails = [
        outbound(1, to="a@news.example"),
        outbound(2, to="dropped@news.example"),
        outbound(3, to="b@news.example"),
    ]
    results = provider_for(port).send_batch(emails)

    assert [r.accepted for r in results] == [True, False, True]
    lost = results[1]
    assert lost.unknown
    assert not lost.retryable
    assert lost.error is not None
    assert "after DATA" in lost.error
    # The relay did get it: exactly why resending blindly would duplicate it.
    assert [m.rcpt_tos for m in relay.received] == [
        ["a@news.example"],
        ["dropped@news.example"],
        ["b@news.example"],
    ]
    first, dropped, last = (m.connection for m in relay.received)
    assert first == dropped
    assert last != first  # a fresh connection for what followed


def login_checker(user: bytes, password: bytes) -> Callable[..., AuthResult]:
    def authenticator(
        server: SMTPServer, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = isinstance(auth_data, LoginPassword) and auth_data == (user, password)
        return AuthResult(success=ok, handled=False)

    return authenticator


def test_login_then_send(smtp_server: ServerFactory) -> None:
    relay, port = smtp_server(
        authenticator=login_checker(b"mailer", b"s3cret"),
        auth_require_tls=False,
        auth_required=True,
    )
    provider = provider_for(port, username="mailer", password="s3cret")
    results = provider.send_batch([outbound(1), outbound(2, to="sam@news.example")])

    assert [r.accepted for r in results] == [True, True]
    assert len(relay.received) == 2


def test_refused_login_fails_the_batch(smtp_server: ServerFactory) -> None:
    relay, port = smtp_server(
        authenticator=login_checker(b"mailer", b"s3cret"),
        auth_require_tls=False,
        auth_required=True,
    )
    provider = provider_for(port, username="mailer", password="wrong")
    with pytest.raises(PermanentProviderError) as caught:
        provider.send_batch([outbound(1), outbound(2)])
    assert caught.value.status_code == 535
    assert not isinstance(caught.value, RetryableProviderError)
    assert relay.received == []


def test_without_login_a_relay_that_requires_it_refuses_each_message(
    smtp_server: ServerFactory,
) -> None:
    relay, port = smtp_server(
        authenticator=login_checker(b"mailer", b"s3cret"),
        auth_require_tls=False,
        auth_required=True,
    )
    results = provider_for(port).send_batch([outbound(1)])
    assert not results[0].accepted
    assert not results[0].retryable
    assert "530" in (results[0].error or "")
    assert relay.received == []


def test_connect_failure_is_retryable() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago and has no listener
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(RetryableProviderError) as caught:
        provider_for(port).send_batch([outbound(1)])
    assert "cannot connect" in str(caught.value)


def test_starttls_upgrades_before_sending(
    smtp_server: ServerFactory, certificate: tuple[Path, Path, str]
) -> None:
    relay, port = smtp_server(
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=login_checker(b"mailer", b"s3cret"),
        auth_required=True,
    )
    provider = provider_for(
        port,
        security="starttls",
        username="mailer",
        password="s3cret",
        ssl_context=ssl.create_default_context(cadata=certificate[2]),
    )
    (result,) = provider.send_batch([outbound(1)])
    assert result.accepted
    assert [m.tls for m in relay.received] == [True]


def test_implicit_tls(smtp_server: ServerFactory, certificate: tuple[Path, Path, str]) -> None:
    relay, port = smtp_server(ssl_context=server_context(certificate))
    provider = provider_for(
        port, security="tls", ssl_context=ssl.create_default_context(cadata=certificate[2])
    )
    results = provider.send_batch([outbound(1), outbound(2, to="sam@news.example")])
    assert [r.accepted for r in results] == [True, True]
    assert [m.tls for m in relay.received] == [True, True]


def test_untrusted_certificate_is_permanent(
    smtp_server: ServerFactory, certificate: tuple[Path, Path, str]
) -> None:
    relay, port = smtp_server(tls_context=server_context(certificate))
    # The default context does not trust the self-signed certificate.
    with pytest.raises(PermanentProviderError, match="certificate"):
        provider_for(port, security="starttls").send_batch([outbound(1)])
    assert relay.received == []


def test_starttls_never_falls_back_to_plain_text(smtp_server: ServerFactory) -> None:
    relay, port = smtp_server()  # no tls_context: STARTTLS is not offered
    with pytest.raises(PermanentProviderError, match="STARTTLS"):
        provider_for(port, security="starttls").send_batch([outbound(1)])
    assert relay.received == []


def test_more_than_max_batch_is_refused_before_connecting() -> None:
    provider = provider_for(1)  # nothing listens on port 1: connecting would fail differently
    with pytest.raises(ValueError, match="50"):
        provider.send_batch([outbound(i) for i in range(51)])


def test_build_adapter_from_settings() -> None:
    settings = make_settings(
        "sqlite://",
        providers={
            "relay": {
                "type": "smtp",
                "host": "smtp.acme.example",
                "port": 465,
                "security": "tls",
                "username": "mailer",
                "password": "s3cret",
            }
        },
    )
    provider = build_provider(settings, "relay")
    assert isinstance(provider, SmtpProvider)
    assert (provider.host, provider.port, provider.security, provider.username) == (
        "smtp.acme.example",
        465,
        "tls",
        "mailer",
    )
    # No HTTP client behind an SMTP relay, not even one it would have to refuse.
    assert not isinstance(provider, HttpProvider)
    assert not hasattr(provider, "client")
    provider.close()
