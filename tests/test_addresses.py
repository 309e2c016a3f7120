"""How an address is prepared for a provider (distro.providers.addresses)."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage

import pytest

from distro.providers.addresses import (
    NON_ASCII_LOCAL_PART,
    AddressRefused,
    display_address,
    prepare_address,
    providers_refusing,
)


def test_domains_are_idna_encoded_and_local_parts_kept() -> None:
    assert prepare_address("Redaktion@Bücher.de", utf8_local_part=False) == (
        "Redaktion@xn--bcher-kva.de"
    )
    assert prepare_address("josé@bücher.de", utf8_local_part=True) == "josé@xn--bcher-kva.de"


def test_a_non_ascii_local_part_is_refused_where_the_provider_cannot_take_it() -> None:
    with pytest.raises(AddressRefused, match=NON_ASCII_LOCAL_PART):
        prepare_address("josé.lópez@elnuevoherald.com", utf8_local_part=False)
    assert providers_refusing("josé.lópez@elnuevoherald.com") == (
        "postmark",
        "sendgrid",
        "ses",
        "resend",
        "sandbox",
    )
    assert providers_refusing("jose@bücher.de") == ()


def test_display_names_are_utf8_text_quoted_when_needed() -> None:
    assert display_address("Björn Hernández", "b@x.example") == "Björn Hernández <b@x.example>"
    assert display_address('López, "José"', "j@x.example") == '"López, \\"José\\"" <j@x.example>'
    assert display_address("José López", "josé.lópez@x.example") == (
        "José López <josé.lópez@x.example>"
    )
    assert display_address("", "a@x.example") == "a@x.example"


def test_mime_headers_encode_the_utf8_name_properly() -> None:
    message = EmailMessage(policy=email.policy.SMTP)
    message["To"] = display_address('López, "José"', "j@x.example")
    raw = bytes(message)
    assert raw.isascii()
    assert message["To"].addresses[0].display_name == 'López, "José"'
    assert message["To"].addresses[0].addr_spec == "j@x.example"
