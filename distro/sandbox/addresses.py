"""Email address checks shared by every emulated API.

One rule set for all providers keeps the sandbox predictable: an address is refused here exactly
when Postmark's published rules (support article "ErrorCode 300") would refuse it.
"""

from __future__ import annotations

import email.utils
import re

MAILBOX_PATTERN = re.compile(r"^[a-z0-9.!#$%&'`*+\-/=^_{}|~]+$", re.IGNORECASE)
# Mailgun documents SMTPUTF8 support: its API takes a local part with non-ASCII letters too.
UTF8_MAILBOX_PATTERN = re.compile(
    r"^[a-z0-9.!#$%&'`*+\-/=^_{}|~\u0080-\U0010ffff]+$", re.IGNORECASE
)
DOMAIN_PATTERN = re.compile(r"^((\.)?[a-zA-Z0-9\-])+$")


def address_problem(address: str, *, utf8_local_part: bool = False) -> str | None:
    """Why ``address`` (a bare addr-spec) is unusable, or None when it is fine."""
    if "@" not in address:
        return "it must contain the '@' symbol"
    mailbox, _, domain = address.rpartition("@")
    if not DOMAIN_PATTERN.match(domain) or "." not in domain:
        return f"illegal email domain '{domain}'"
    pattern = UTF8_MAILBOX_PATTERN if utf8_local_part else MAILBOX_PATTERN
    if not pattern.match(mailbox):
        return f"illegal mailbox '{mailbox}'"
    return None


def is_valid_address(address: str, *, utf8_local_part: bool = False) -> bool:
    return address_problem(address, utf8_local_part=utf8_local_part) is None


def parse_mailbox(value: str, *, utf8_local_part: bool = False) -> tuple[str, str] | None:
    """``(display name, addr-spec)`` of one ``Name <addr>`` or bare address, None if invalid."""
    name, address = email.utils.parseaddr(value.strip())
    address = address.strip()
    if not address or not is_valid_address(address, utf8_local_part=utf8_local_part):
        return None
    return name, address


def parse_mailbox_list(
    value: str, *, utf8_local_part: bool = False
) -> list[tuple[str, str]] | None:
    """Every mailbox of a comma-separated list; None if any of them is invalid."""
    found: list[tuple[str, str]] = []
    for name, address in email.utils.getaddresses([value]):
        address = address.strip()
        if not address:
            continue
        if not is_valid_address(address, utf8_local_part=utf8_local_part):
            return None
        found.append((name, address))
    return found
