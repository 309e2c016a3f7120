"""Checking an AWS Signature Version 4 ``Authorization`` header, as SES does.

The expected signature is recomputed with botocore's own ``SigV4Auth`` over the request as
received (only the headers the client says it signed, its ``X-Amz-Date``, and the region and
service of its credential scope), so the sandbox accepts exactly what a real AWS endpoint
would accept from the same client.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

ALGORITHM = "AWS4-HMAC-SHA256"
AMZ_DATE_FORMAT = "%Y%m%dT%H%M%SZ"
MAX_SKEW = timedelta(minutes=15)
_FIELDS = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]+)")


@dataclass(frozen=True, slots=True)
class SignedRequest:
    """What the signature covers, as the server received it."""

    method: str
    url: str  # scheme://host/path?query, as the client addressed it
    headers: Mapping[str, str]  # lower-case names
    body: bytes


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why a signature is not accepted: AWS's error type and message (always HTTP 403)."""

    error_type: str
    message: str


MISMATCH = Refusal(
    "SignatureDoesNotMatch",
    "The request signature we calculated does not match the signature you provided. Check your "
    "AWS Secret Access Key and signing method. Consult the service documentation for details.",
)


def verify(
    request: SignedRequest,
    credentials: Mapping[str, str],
    service: str,
    now: datetime | None = None,
) -> Refusal | None:
    """None when ``request`` carries a valid signature by a key in ``credentials``."""
    header = request.headers.get("authorization", "")
    if not header:
        return Refusal("MissingAuthenticationTokenException", "Missing Authentication Token")
    algorithm, _, rest = header.partition(" ")
    fields = dict(_FIELDS.findall(rest))
    if algorithm != ALGORITHM or set(fields) != {"Credential", "SignedHeaders", "Signature"}:
        return Refusal(
            "IncompleteSignatureException",
            f"Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' "
            f"with algorithm {ALGORITHM}.",
        )
    scope = fields["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        return Refusal("IncompleteSignatureException", "Malformed credential scope.")
    key_id, day, region, scope_service, _terminator = scope
    secret = credentials.get(key_id)
    if secret is None:
        return Refusal(
            "UnrecognizedClientException", "The security token included in the request is invalid."
        )
    amz_date = request.headers.get("x-amz-date", "")
    try:
        signed_at = datetime.strptime(amz_date, AMZ_DATE_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return Refusal("IncompleteSignatureException", "Missing or malformed X-Amz-Date header.")
    moment = now or datetime.now(UTC)
    if abs(moment - signed_at) > MAX_SKEW:
        return Refusal(
            "InvalidSignatureException",
            f"Signature expired: {amz_date} is now earlier than "
            f"{(moment - MAX_SKEW).strftime(AMZ_DATE_FORMAT)}.",
        )
    if day != amz_date[:8] or scope_service != service:
        return MISMATCH
    declared_hash = request.headers.get("x-amz-content-sha256")
    if declared_hash is not None and declared_hash != hashlib.sha256(request.body).hexdigest():
        return Refusal(
            "XAmzContentSHA256Mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    expected = _signature(request, fields["SignedHeaders"], key_id, secret, region, service)
    if expected is None or not hmac.compare_digest(expected, fields["Signature"]):
        return MISMATCH
    return None


def _signature(
    request: SignedRequest, signed: str, key_id: str, secret: str, region: str, service: str
) -> str | None:
    names = [name for name in signed.split(";") if name]
    if "host" not in names or any(name not in request.headers for name in names):
        return None
    aws_request = AWSRequest(
        method=request.method,
        url=request.url,
        headers={name: request.headers[name] for name in names},
        data=request.body,
    )
    aws_request.context["timestamp"] = request.headers["x-amz-date"]
    signer = SigV4Auth(Credentials(key_id, secret), service, region)
    canonical = signer.canonical_request(aws_request)
    return signer.signature(signer.string_to_sign(aws_request, canonical), aws_request)
