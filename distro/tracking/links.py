"""Signed tokens that name a message, for the links distro puts in emails.

Each purpose (unsubscribe, open, click, web copy) has its own salt, so a token made for one
purpose is refused by every other. Tokens do not expire: an unsubscribe link must keep working.
"""

from __future__ import annotations

from enum import StrEnum

from itsdangerous import BadSignature, URLSafeSerializer


class LinkPurpose(StrEnum):
    UNSUBSCRIBE = "unsubscribe"
    WEB_COPY = "web-copy"


class LinkSigner:
    def __init__(self, secret_key: str) -> None:
        self._secret_key = secret_key

    def _serializer(self, purpose: LinkPurpose) -> URLSafeSerializer:
        return URLSafeSerializer(self._secret_key, salt=f"distro-link-{purpose}")

    def sign(self, purpose: LinkPurpose, message_id: int) -> str:
        token = self._serializer(purpose).dumps(message_id)
        assert isinstance(token, str)
        return token

    def verify(self, purpose: LinkPurpose, token: str) -> int | None:
        """The message id the token names, or None when it is forged or malformed."""
        try:
            value = self._serializer(purpose).loads(token)
        except BadSignature:
            return None
        return value if isinstance(value, int) and not isinstance(value, bool) else None
