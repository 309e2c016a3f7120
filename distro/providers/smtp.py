"""SMTP relays (self-hosted or a provider's SMTP endpoint) through the standard library.

Each batch opens its own connection (implicit TLS, STARTTLS or plain per ``security``, then AUTH
when a username is set), sends every message over it with ``send_message`` and says QUIT: no
connection is shared between sender threads, which is what makes the adapter thread-safe, and
batches of ``max_batch`` spread the handshake over many messages. A connection lost mid-batch is
opened again for the messages that follow, so one failure never sinks the ones already accepted.

Every reply is classified per message: 5xx refusals are permanent, 4xx worth retrying, and a
connection lost once DATA was issued leaves that one message's outcome unknown (the relay may
have queued it). There is no webhook to match events against, so the provider message id is the
Message-ID header and our id also travels as ``X-Distro-Message-Id``.
"""

from __future__ import annotations

import logging
import smtplib
import socket
import ssl
import threading
from collections.abc import Sequence
from email.message import EmailMessage
from typing import TYPE_CHECKING, Literal

from distro.config import Settings
from distro.config_providers import ProviderSettings
from distro.config_providers import SmtpProvider as SmtpSettings
from distro.errors import PermanentProviderError, ProviderError, RetryableProviderError
from distro.providers.addresses import NON_ASCII_LOCAL_PART, has_non_ascii_local_part
from distro.providers.base import OutboundEmail, Provider, SendResult
from distro.providers.mime import to_mime

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger(__name__)

MESSAGE_ID_HEADER = "X-Distro-Message-Id"
DEFAULT_SMTP_TIMEOUT = 30.0

Security = Literal["starttls", "tls", "none"]


class _Connection(smtplib.SMTP):
    """An SMTP connection that remembers whether DATA was issued for the current message."""

    data_started = False

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        self.data_started = True
        return super().data(msg)


class _TlsConnection(_Connection, smtplib.SMTP_SSL):
    """The same over implicit TLS (port 465)."""


class SmtpProvider(Provider):
    """One connection per batch; ``ssl_context`` defaults to the system's trusted CAs."""

    max_batch = 50
    # Only when the relay offers SMTPUTF8: checked per connection in ``_send_one``.
    accepts_non_ascii_local_part = True

    def __init__(
        self,
        name: str,
        *,
        host: str,
        port: int,
        security: Security = "starttls",
        username: str = "",
        password: str = "",
        timeout: float = DEFAULT_SMTP_TIMEOUT,
        ssl_context: ssl.SSLContext | None = None,
        local_hostname: str | None = None,
    ) -> None:
        super().__init__(name)
        self.host = host
        self.port = port
        self.security = security
        self.username = username
        self._password = password
        self.timeout = timeout
        self.ssl_context = ssl_context or ssl.create_default_context()
        # socket.getfqdn() can take seconds (reverse DNS): look it up once, not per connection.
        self._local_hostname = local_hostname
        self._hostname_lock = threading.Lock()

    def send_batch(
        self, emails: Sequence[OutboundEmail], *, batch_key: str = ""
    ) -> list[SendResult]:
        if len(emails) > self.max_batch:
            raise ValueError(f"SMTP takes at most {self.max_batch} messages a batch")
        if not emails:
            return []
        results: list[SendResult] = []
        # Nothing was sent yet, so a refused connection or login fails the whole batch.
        connection: _Connection | None = self._connect()
        try:
            for index, email in enumerate(emails):
                if connection is None:
                    try:
                        connection = self._connect()
                    except ProviderError as exc:
                        results.extend(_failed(e, exc) for e in emails[index:])
                        break
                result, usable = self._send_one(connection, email)
                results.append(result)
                if not usable:
                    connection.close()
                    connection = None
        finally:
            if connection is not None:
                _quit(connection)
        return results

    def message(self, email: OutboundEmail) -> EmailMessage:
        """The MIME message as the relay receives it."""
        message = to_mime(email)
        del message[MESSAGE_ID_HEADER]
        message[MESSAGE_ID_HEADER] = str(email.message_id)
        return message

    def _hostname(self) -> str:
        with self._hostname_lock:
            if self._local_hostname is None:
                self._local_hostname = socket.getfqdn()
            return self._local_hostname

    def _connect(self) -> _Connection:
        """An authenticated connection ready for MAIL FROM, or a classified ProviderError."""
        where = f"{self.name}: {self.host}:{self.port}"
        try:
            if self.security == "tls":
                connection: _Connection = _TlsConnection(
                    self.host,
                    self.port,
                    local_hostname=self._hostname(),
                    timeout=self.timeout,
                    context=self.ssl_context,
                )
            else:
                connection = _Connection(
                    self.host, self.port, local_hostname=self._hostname(), timeout=self.timeout
                )
        except ssl.SSLCertVerificationError as exc:
            raise PermanentProviderError(f"{where}: TLS certificate refused: {exc}") from exc
        except smtplib.SMTPResponseException as exc:  # a greeting other than 220
            raise _reply_error(where, "greeting", exc.smtp_code, exc.smtp_error) from exc
        except (OSError, smtplib.SMTPException) as exc:
            raise RetryableProviderError(f"{where}: cannot connect: {exc}") from exc
        try:
            connection.ehlo()
            if self.security == "starttls":
                connection.starttls(context=self.ssl_context)
                connection.ehlo()
            if self.username:
                connection.login(self.username, self._password)
        except (smtplib.SMTPException, OSError) as exc:
            connection.close()
            raise _handshake_error(where, exc) from exc
        except BaseException:
            connection.close()
            raise
        return connection

    def _send_one(self, connection: _Connection, email: OutboundEmail) -> tuple[SendResult, bool]:
        """This email's result, and whether the connection can carry the next one."""
        try:
            message = self.message(email)
        except Exception as exc:  # never left: say so for this email alone
            log.exception("%s: cannot build message %s", self.name, email.message_id)
            return SendResult(email.message_id, False, error=f"{self.name}: {exc}"), True
        provider_id = message["Message-ID"]
        international = has_non_ascii_local_part(email.to_email) or has_non_ascii_local_part(
            email.from_email
        )
        if international and not connection.has_extn("smtputf8"):
            error = f"{self.name}: {NON_ASCII_LOCAL_PART} (the relay does not offer SMTPUTF8)"
            return SendResult(email.message_id, False, error=error), True
        connection.data_started = False
        try:
            connection.send_message(message, email.from_email, [email.to_email])
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()), (0, b"refused"))
            return _refused(self.name, email, "RCPT", code, reply), _alive(connection)
        except smtplib.SMTPSenderRefused as exc:
            refused = _refused(self.name, email, "MAIL", exc.smtp_code, exc.smtp_error)
            return refused, _alive(connection)
        except smtplib.SMTPResponseException as exc:  # DATA refused (SMTPDataError)
            refused = _refused(self.name, email, "DATA", exc.smtp_code, exc.smtp_error)
            return refused, _alive(connection)
        except (smtplib.SMTPServerDisconnected, OSError) as exc:
            # Timeouts and resets surface as one of these. Before DATA nothing was queued.
            lost = connection.data_started
            return (
                SendResult(
                    email.message_id,
                    False,
                    error=f"{self.name}: connection lost{' after DATA' if lost else ''}: {exc}",
                    retryable=not lost,
                    unknown=lost,
                ),
                False,
            )
        except (smtplib.SMTPException, UnicodeError) as exc:
            # e.g. an address that needs SMTPUTF8 the relay does not offer.
            error = f"{self.name}: cannot send: {exc}"
            return SendResult(email.message_id, False, error=error), _alive(connection)
        return SendResult(email.message_id, True, provider_message_id=provider_id), True


def _alive(connection: _Connection) -> bool:
    # smtplib closes the socket itself on a 421 or a lost connection.
    return connection.sock is not None


def _quit(connection: _Connection) -> None:
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply


def _refused(
    name: str, email: OutboundEmail, stage: str, code: int, reply: bytes | str
) -> SendResult:
    """A relay's definite answer for one message: 4xx try again later, anything else final."""
    return SendResult(
        email.message_id,
        False,
        error=f"{name}: {stage} refused: {code} {_text(reply)}",
        retryable=400 <= code < 500,
    )


def _reply_error(where: str, stage: str, code: int, reply: bytes | str) -> ProviderError:
    message = f"{where}: {stage} refused: {code} {_text(reply)}"
    if 400 <= code < 500:
        return RetryableProviderError(message, status_code=code)
    return PermanentProviderError(message, status_code=code)


def _handshake_error(where: str, exc: smtplib.SMTPException | OSError) -> ProviderError:
    """EHLO, STARTTLS and AUTH failures as errors for the whole batch."""
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        # 535 is final; 454 ("temporary authentication failure") is worth another try.
        return _reply_error(where, "login", exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        # The relay lacks STARTTLS or AUTH: never fall back to sending in the clear.
        return PermanentProviderError(f"{where}: {exc}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return PermanentProviderError(f"{where}: TLS certificate refused: {exc}")
    if isinstance(exc, smtplib.SMTPResponseException):
        return _reply_error(where, "handshake", exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPServerDisconnected | OSError):
        return RetryableProviderError(f"{where}: connection lost during handshake: {exc}")
    return PermanentProviderError(f"{where}: {exc}")


def _failed(email: OutboundEmail, exc: ProviderError) -> SendResult:
    return SendResult(
        email.message_id,
        False,
        error=str(exc),
        retryable=isinstance(exc, RetryableProviderError),
    )


def build_adapter(settings: Settings, name: str, config: ProviderSettings) -> SmtpProvider:
    """An SMTP relay, reached over a socket of its own: no HTTP client, no transport."""
    if not isinstance(config, SmtpSettings):
        raise TypeError(f"providers.{name} is a {config.type} provider, not SMTP")
    return SmtpProvider(
        name,
        host=config.host,
        port=config.port,
        security=config.security,
        username=config.username,
        password=config.password.get_secret_value(),
        timeout=config.timeout_seconds,
    )
