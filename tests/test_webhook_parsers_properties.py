"""Property tests over every provider's webhook parser (the code that turns an authenticated body
into normalised events): whatever the body, it ends in events or in distro's own
``WebhookPayloadError``, never another exception, and within a deadline that is generous for the
size of the inputs drawn (bodies of up to some tens of kilobytes; a 2-core machine shared with
other work). Bodies are arbitrary bytes, arbitrary JSON, and real payloads of every event kind
with parts replaced, removed or added. The events that come out are storable: aware times that
exist in UTC, our ids within a database integer, details that serialise.

The last tests send such bodies, authenticated, through the real app: 2xx or the format's
"unreadable" answer, never a 5xx."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from datetime import UTC, timedelta
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine

from distro.errors import DistroError, WebhookPayloadError
from distro.providers.base import MESSAGE_ID_KEY
from distro.tracking import mailgun, mailgun_legacy, postmark, resend, sendgrid, ses
from distro.tracking import signatures as sig
from distro.tracking.detail import stored_detail
from distro.tracking.event import NormalisedEvent
from distro.tracking.payloads import Parsed, load_json
from tests.test_webhooks_support import LiveFactory, live_factory
from tests.webhook_samples import (
    FORMATS,
    UNREADABLE,
    all_formats,
    post_authenticated,
    samples,
    signing_keys,
)

__all__ = ["live_factory"]  # the fixture, imported for pytest

#: Far above what a parser takes for the largest input drawn here, even on a busy machine.
DEADLINE = timedelta(seconds=2)
EXAMPLES = 200  # mutated real payloads: where the bugs were
ARBITRARY_EXAMPLES = 50
BIGINT = 2**63 - 1

#: Strings that have broken parsers elsewhere: times at the ends of the range, digits that are
#: not ASCII, NUL, huge numbers written out, addresses with display names.
TRICKY = st.sampled_from(
    [
        "",
        "0001-01-01T00:00:00+05:00",
        "9999-12-31T23:59:59-05:00",
        "2026-11-21T09:00:00",
        "2026-11-21T09:00:00Z",
        "²",
        "٣",
        "99999999999999999999999",
        "-1",
        "\x00",
        "Jo <jo@news.example>",
        "jo@bücher.example",
        "nan",
        "1e400",
        "permanent",
        "temporary",
        "Permanent",
    ]
)
LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40)
    | TRICKY
)
JSON = st.recursive(
    LEAVES,
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=12) | TRICKY, children, max_size=6)
    ),
    max_leaves=40,
)
#: A field of another kind than expected: what a mutation puts in most often.
OTHER_KIND = st.sampled_from(
    [None, True, 0, -1, 1.5, 1e300, 2**63, "", "x", [], [1], ["a", "b"], {}, {"a": 1}]
)
# Copied: a later mutation may add to a list or object put in, which must not change the constant.
REPLACEMENT = OTHER_KIND.map(copy.deepcopy) | TRICKY | JSON


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*path, index))


def _replace(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    parent[path[-1]] = new
    return value


def _remove(value: Any, path: tuple[Any, ...]) -> Any:
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    del parent[path[-1]]
    return value


@st.composite
def mutated(draw: st.DrawFn, bases: list[Any]) -> Any:
    """A real payload with one to four parts replaced (by any JSON, or by a copy of another
    part), removed, or added."""
    value = copy.deepcopy(draw(st.sampled_from(bases)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = list(_paths(value))
        path = draw(st.sampled_from(paths))
        action = draw(st.sampled_from(["replace", "replace", "remove", "add", "copy"]))
        if action == "remove" and path:
            value = _remove(value, path)
        elif action == "add":
            target = _replace(value, (), value)
            for step in path:
                target = target[step]
            if isinstance(target, dict):
                target[draw(st.text(max_size=12) | TRICKY)] = draw(JSON)
            elif isinstance(target, list):
                target.insert(draw(st.integers(0, len(target))), draw(JSON))
        elif action == "copy":
            other = draw(st.sampled_from(paths))
            source: Any = value
            for step in other:
                source = source[step]
            value = _replace(value, path, copy.deepcopy(source))
        else:
            value = _replace(value, path, draw(REPLACEMENT))
    return value


def _mailgun(value: Any) -> list[NormalisedEvent]:
    """What the Mailgun route does after the signature: the signature fields, then the event."""
    body = {"signature": sig.mailgun_signature("k"), "event-data": value}
    mailgun.signature_fields(body)
    return mailgun.parse(body)


def _ses(value: Any) -> list[NormalisedEvent]:
    """What the SES route does with a verified notification: the SES event is JSON text."""
    return ses.parse(load_json(json.dumps(value).encode()), "9f2c1f0a-sns-id")


#: Each format's parser, given the JSON value ``webhook_samples`` calls a body.
PARSERS: dict[str, Callable[[Any], list[NormalisedEvent] | Parsed]] = {
    "postmark": postmark.parse,
    "sendgrid": sendgrid.parse,
    "mailgun": _mailgun,
    "ses": _ses,
    "resend": lambda value: resend.parse(value, "msg_2Xg0rZ"),
}


def events_or_refusal(wire_format: str, value: Any) -> list[NormalisedEvent] | None:
    """The parser's events, or None for its refusal; any other exception fails the test."""
    try:
        result = PARSERS[wire_format](value)
    except WebhookPayloadError as exc:
        refusal: DistroError = exc  # distro's own error type, which says what is wrong
        if not str(refusal):
            pytest.fail(f"{wire_format}: a refusal without a reason for {value!r}")
        return None
    events = result.events if isinstance(result, Parsed) else result
    for event in events:
        assert_storable(event)
    return events


def assert_storable(event: NormalisedEvent) -> None:
    assert isinstance(event, NormalisedEvent)
    assert event.occurred_at.tzinfo is not None
    event.occurred_at.astimezone(UTC)  # exists in UTC
    assert isinstance(event.provider_event_id, str)
    assert event.provider_event_id
    assert isinstance(event.recipient, str)
    assert event.provider_message_id is None or isinstance(event.provider_message_id, str)
    assert event.message_id is None or 0 < event.message_id <= BIGINT
    detail = stored_detail(event)  # what the store writes
    try:
        orjson.dumps(detail)
    except TypeError:
        json.dumps(detail)  # what the store falls back to


@pytest.mark.parametrize("wire_format", FORMATS)
def test_the_samples_are_read(wire_format: str) -> None:
    """The bodies the properties mutate are real ones: each gives events."""
    for value in samples(wire_format):
        assert events_or_refusal(wire_format, value), value


@pytest.mark.parametrize("wire_format", FORMATS)
@settings(max_examples=EXAMPLES, deadline=DEADLINE)
@given(data=st.data())
def test_mutated_real_payloads_give_events_or_a_payload_error(
    wire_format: str, data: st.DataObject
) -> None:
    events_or_refusal(wire_format, data.draw(mutated(samples(wire_format))))


@pytest.mark.parametrize("wire_format", FORMATS)
@settings(max_examples=ARBITRARY_EXAMPLES, deadline=DEADLINE)
@given(body=st.binary(max_size=2000) | JSON.map(lambda v: json.dumps(v).encode()))
def test_arbitrary_bodies_give_events_or_a_payload_error(wire_format: str, body: bytes) -> None:
    """Bytes and JSON of no provider's shape: nearly all refused at once, cheaply."""
    try:
        value = load_json(body)
    except WebhookPayloadError:
        return
    events_or_refusal(wire_format, value)


#: Field names of Mailgun's legacy form webhooks, drawn with tricky and arbitrary values.
LEGACY_FIELDS = st.sampled_from(
    [
        "event",
        "recipient",
        "timestamp",
        "Message-Id",
        "message-id",
        "message-headers",
        "code",
        "error",
        "reason",
        "description",
        "url",
        MESSAGE_ID_KEY,
    ]
)
LEGACY_EVENTS = st.sampled_from(
    ["delivered", "dropped", "bounced", "complained", "unsubscribed", "opened", "clicked", "x"]
)


@settings(max_examples=EXAMPLES, deadline=DEADLINE)
@given(
    fields=st.dictionaries(LEGACY_FIELDS, TRICKY | st.text(max_size=60), max_size=12),
    event=LEGACY_EVENTS,
)
def test_legacy_mailgun_fields_give_events_or_a_payload_error(
    fields: dict[str, str], event: str
) -> None:
    try:
        events = mailgun_legacy.parse({"event": event, **fields})
    except WebhookPayloadError as exc:
        if not str(exc):
            pytest.fail(f"a refusal without a reason for {fields!r}")
        return
    for found in events:
        assert_storable(found)


@settings(max_examples=ARBITRARY_EXAMPLES, deadline=DEADLINE)
@given(body=st.binary(max_size=2000), multipart=st.booleans())
def test_arbitrary_legacy_mailgun_form_bodies_are_read_or_refused(
    body: bytes, multipart: bool
) -> None:
    content_type = (
        "multipart/form-data; boundary=xyz" if multipart else "application/x-www-form-urlencoded"
    )
    try:
        fields = mailgun_legacy.read_form(content_type, body)
        events = mailgun_legacy.parse(fields)
    except WebhookPayloadError as exc:
        if not str(exc):
            pytest.fail(f"a refusal without a reason for {body!r}")
        return
    for found in events:
        assert_storable(found)


@settings(max_examples=10, deadline=DEADLINE)
@given(data=st.data())
def test_a_large_sendgrid_batch_of_mutated_events_is_read_within_the_deadline(
    data: st.DataObject,
) -> None:
    """SendGrid posts up to 1000 events at once: every element mutated, the batch still ends
    in events (the readable ones) or one refusal."""
    elements = samples("sendgrid")[0]
    size = data.draw(st.integers(min_value=1, max_value=1000))
    batch = [
        data.draw(mutated([elements[index % len(elements)]])) if index % 50 == 0 else elements[0]
        for index in range(size)
    ]
    events_or_refusal("sendgrid", batch)


# --- through the real app ------------------------------------------------------------------


@pytest.fixture(scope="module")
def keys() -> dict[str, str]:
    return signing_keys()


def test_mutated_bodies_through_the_routes_are_answered_2xx_or_unreadable_never_5xx(
    engine: Engine, live_factory: LiveFactory, keys: dict[str, str]
) -> None:
    live = all_formats(engine, live_factory, keys)

    @settings(max_examples=30, deadline=None)  # each is an HTTP round trip and a write
    @given(data=st.data())
    def answered(data: st.DataObject) -> None:
        wire_format = data.draw(st.sampled_from(FORMATS))
        value = data.draw(mutated(samples(wire_format)))
        answer = post_authenticated(live, keys, wire_format, value)
        assert answer.status_code in (200, UNREADABLE[wire_format]), (
            wire_format,
            answer.status_code,
            answer.text,
        )

    answered()


def _with(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    return _replace(copy.deepcopy(value), path, new)


def once_broken() -> list[tuple[str, Any, int]]:
    """(format, body, answer) for bodies that made a route answer 500 before: a moment before
    year 1 in UTC, an id past a database integer, a list field that is a number."""
    before_year_1 = "0001-01-01T00:00:00+05:00"
    postmark_delivery, ses_send, ses_delivery = (
        samples("postmark")[0],
        samples("ses")[0],
        samples("ses")[1],
    )
    huge_id = {MESSAGE_ID_KEY: "99999999999999999999"}
    return [
        ("postmark", _with(postmark_delivery, ("DeliveredAt",), before_year_1), 400),
        ("postmark", _with(postmark_delivery, ("Metadata",), huge_id), 200),
        (
            "mailgun",
            _with(samples("mailgun")[0], ("user-variables",), {MESSAGE_ID_KEY: 2**63}),
            200,
        ),
        ("ses", _with(ses_send, ("mail", "timestamp"), before_year_1), 400),
        ("ses", _with(ses_send, ("mail", "destination"), 5), 400),
        ("ses", _with(ses_delivery, ("delivery", "recipients"), 5), 200),
        ("resend", _with(samples("resend")[0], ("created_at",), before_year_1), 400),
    ]


def test_bodies_that_once_broke_a_parser_are_answered_2xx_or_unreadable(
    engine: Engine, live_factory: LiveFactory, keys: dict[str, str]
) -> None:
    live = all_formats(engine, live_factory, keys)
    for wire_format, value, status in once_broken():
        answer = post_authenticated(live, keys, wire_format, value)
        assert answer.status_code == status, (wire_format, value, answer.text)
