"""One exception tree for distro; the CLI prints any of these as a single line.

DistroError
├── ConfigError             a config key is missing, unknown or of the wrong type or value
├── DatabaseError           the database is missing, corrupt, unreachable or not migrated
├── NotFoundError           a named release, list, send, contact ... does not exist
├── ValidationError         user input (CLI arguments, API requests) is not acceptable
│   ├── FieldError          ... in one named field (``asset_links[2].url``, ``body`` line 3)
│   └── WebhookPayloadError a provider's webhook body cannot be read (names the field)
├── TemplateError           a template fails to load or render (names template, line, cause)
├── EmbargoError            a send would break an embargo rule
└── ProviderError           an email provider refused or failed a request
    ├── RetryableProviderError   not accepted, worth retrying: 429, 5xx, connect failures
    ├── PermanentProviderError   any other refusal: do not retry as it is
    └── OutcomeUnknownError      the request may have been accepted (the answer was lost)
"""

from __future__ import annotations


class DistroError(Exception):
    """Base of every error distro raises on purpose."""


class ConfigError(DistroError):
    """Configuration cannot be loaded or is invalid."""


class DatabaseError(DistroError):
    """The database cannot be used as it is."""


class NotFoundError(DistroError):
    """A referenced object does not exist."""


class ValidationError(DistroError):
    """User input is not acceptable."""


class FieldError(ValidationError):
    """One field of an input is not acceptable: which field, which line of it, and why.

    ``path`` leads to the field: keys, and positions counted from 1 (``("asset_links", 2,
    "url")``, shown as ``asset_links[2].url``); ``line`` is a line within a text field, if the
    problem is on one. Kept apart so that a form can show the reason beside its field, and a
    file reader can add its own line number.
    """

    def __init__(self, path: tuple[str | int, ...], reason: str, *, line: int | None = None):
        self.path = path
        self.reason = reason
        self.line = line
        self.field = "".join(
            f"[{part}]" if isinstance(part, int) else f".{part}" if i else part
            for i, part in enumerate(path)
        )
        super().__init__(f"{self.field}{f' line {line}' if line else ''}: {reason}")


class WebhookPayloadError(ValidationError):
    """An authenticated provider webhook body cannot be read: not JSON, not the provider's shape,
    or a field missing or of the wrong kind (the message names it). Answered 400 (Mailgun: 406)."""


class TemplateError(DistroError):
    """A template cannot be loaded or rendered."""


class EmbargoError(DistroError):
    """An action would break an embargo rule."""


class ProviderError(DistroError):
    """An email provider refused or failed a request."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class RetryableProviderError(ProviderError):
    """A failure worth retrying later (rate limits, outages, network trouble)."""

    def __init__(
        self, message: str, *, status_code: int | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class PermanentProviderError(ProviderError):
    """A refusal that will not change by retrying the same request."""


class OutcomeUnknownError(ProviderError):
    """The request left but its answer was lost: the provider may have accepted it.

    Resending is safe only with an idempotency key the provider honours; otherwise the messages
    are marked uncertain for staff to decide.
    """
