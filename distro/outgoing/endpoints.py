"""Registering and managing receiver endpoints: what ``distro hooks`` does.

Only staff (people with the CLI and the database) register URLs, but deliveries leave from the
worker's network position, so a URL is checked like every URL entering distro (plain http(s),
no credentials: they would be shown by ``hooks list``), and every address its host resolves to
must be public unless ``allow_private_addresses`` says otherwise (distro.outgoing.destinations;
checked again on every delivery). Redirects are never followed on delivery.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, delete, func
from sqlmodel import Session, col, select

from distro import urls
from distro.db import reading_session, writing_session
from distro.errors import NotFoundError, ValidationError
from distro.models import Event, EventType, OutgoingDelivery, OutgoingWebhook, Send
from distro.models.types import utcnow
from distro.outgoing.destinations import Destinations
from distro.outgoing.vault import new_secret, seal
from distro.outgoing.views import DeliveryView, EndpointSecret, EndpointView, RemovedEndpoint

PUBLIC_ONLY = Destinations()


def valid_event_types() -> str:
    return ", ".join(t.value for t in EventType)


def parse_event_types(text: str | None) -> list[str]:
    """``"delivered,bounced"`` -> the listed types in EventType order; empty: every type."""
    if not text or not text.strip():
        return []
    wanted = {part.strip().lower() for part in text.split(",") if part.strip()}
    unknown = sorted(wanted - {t.value for t in EventType})
    if unknown:
        raise ValidationError(
            f"--events: unknown event type {', '.join(map(repr, unknown))} "
            f"(choose from {valid_event_types()})"
        )
    return [t.value for t in EventType if t.value in wanted]


def check_url(url: str) -> str:
    """The URL as given, if distro will post to it; else a ValidationError naming the reason."""
    try:
        return urls.check_url(url, urls.WEB_SCHEMES)
    except urls.UrlError as exc:
        raise ValidationError(f"URL: {exc}") from None


def add_endpoint(
    engine: Engine,
    url: str,
    server_key: str,
    *,
    event_types: list[str] | None = None,
    send_id: int | None = None,
    from_start: bool = False,
    now: datetime | None = None,
    destinations: Destinations = PUBLIC_ONLY,
) -> EndpointSecret:
    """Register ``url``; return the endpoint and its secret (the only time it is readable).

    It receives the events stored from now on, or with ``from_start`` every stored event too.
    ``destinations`` decides which addresses its host may resolve to.
    """
    url = check_url(url)
    try:
        destinations.check_url(url)
    except ValidationError as exc:
        raise ValidationError(f"URL {url!r}: {exc}") from None
    secret = new_secret()
    with writing_session(engine) as session:
        if send_id is not None and session.get(Send, send_id) is None:
            raise NotFoundError(f"--send: no send with id {send_id}")
        latest = session.scalar(select(func.max(Event.id)))
        endpoint = OutgoingWebhook(
            url=url,
            secret_sealed=seal(secret, server_key),
            event_types=list(event_types or []),
            send_id=send_id,
            cursor_event_id=0 if from_start else int(latest or 0),
            created_at=now or utcnow(),
        )
        session.add(endpoint)
    return EndpointSecret(view_of(endpoint), secret)


def get_endpoint(session: Session, endpoint_id: int) -> OutgoingWebhook:
    endpoint = session.get(OutgoingWebhook, endpoint_id)
    if endpoint is None:
        raise NotFoundError(f"no webhook with id {endpoint_id} (see `distro hooks list`)")
    return endpoint


def list_endpoints(engine: Engine) -> list[EndpointView]:
    with reading_session(engine) as session:
        found = session.exec(select(OutgoingWebhook).order_by(col(OutgoingWebhook.id)))
        return [view_of(endpoint) for endpoint in found]


def remove_endpoint(engine: Engine, endpoint_id: int) -> RemovedEndpoint:
    """Delete the endpoint and its delivery log."""
    with writing_session(engine) as session:
        endpoint = get_endpoint(session, endpoint_id)
        session.execute(
            delete(OutgoingDelivery).where(col(OutgoingDelivery.endpoint_id) == endpoint_id)
        )
        removed = view_of(endpoint)
        session.delete(endpoint)
    return RemovedEndpoint(removed)


def set_active(engine: Engine, endpoint_id: int, active: bool) -> EndpointView:
    """Pause, or resume; resuming also forgets past failures so it is tried at once."""
    with writing_session(engine) as session:
        endpoint = get_endpoint(session, endpoint_id)
        endpoint.active = active
        if active:
            endpoint.gave_up_at = None
            endpoint.consecutive_failures = 0
            endpoint.failing_since = None
            endpoint.next_attempt_at = None
        session.add(endpoint)
    return view_of(endpoint)


def rotate_secret(engine: Engine, endpoint_id: int, server_key: str) -> EndpointSecret:
    """A new secret for the endpoint (the old one stops working at once); shown once."""
    secret = new_secret()
    with writing_session(engine) as session:
        endpoint = get_endpoint(session, endpoint_id)
        endpoint.secret_sealed = seal(secret, server_key)
        session.add(endpoint)
    return EndpointSecret(view_of(endpoint), secret)


def delivery_log(engine: Engine, endpoint_id: int, limit: int = 20) -> list[DeliveryView]:
    """The newest ``limit`` attempts, newest first."""
    with reading_session(engine) as session:
        get_endpoint(session, endpoint_id)
        found = session.exec(
            select(OutgoingDelivery)
            .where(OutgoingDelivery.endpoint_id == endpoint_id)
            .order_by(col(OutgoingDelivery.id).desc())
            .limit(limit)
        )
        return [delivery_of(entry) for entry in found]


def status(endpoint: OutgoingWebhook) -> str:
    """paused | failing (given up on) | retrying | ok."""
    if not endpoint.active:
        return "paused"
    if endpoint.gave_up_at is not None:
        return "failing"
    if endpoint.consecutive_failures:
        return "retrying"
    return "ok"


def view_of(endpoint: OutgoingWebhook) -> EndpointView:
    """The endpoint as shown to staff (never its secret); it has an id (flushed or loaded)."""
    assert endpoint.id is not None
    return EndpointView(
        id=endpoint.id,
        url=endpoint.url,
        status=status(endpoint),
        events=tuple(endpoint.event_types),
        send_id=endpoint.send_id,
        cursor_event_id=endpoint.cursor_event_id,
        consecutive_failures=endpoint.consecutive_failures,
        failing_since=endpoint.failing_since,
        gave_up_at=endpoint.gave_up_at,
        next_attempt_at=endpoint.next_attempt_at,
        last_error=endpoint.last_error,
        last_success_at=endpoint.last_success_at,
        created_at=endpoint.created_at,
    )


def delivery_of(entry: OutgoingDelivery) -> DeliveryView:
    assert entry.id is not None
    return DeliveryView(
        id=entry.id,
        kind=entry.kind,
        attempted_at=entry.attempted_at,
        first_event_id=entry.first_event_id,
        last_event_id=entry.last_event_id,
        event_count=entry.event_count,
        ok=entry.ok,
        status_code=entry.status_code,
        error=entry.error,
        duration_ms=entry.duration_ms,
    )
