"""The sandbox's webhooks in every provider's format, checked by a receiver that verifies them.

The receiver runs over loopback and authenticates each post with ``distro.tracking.signatures``
the way a real endpoint would, with the verification material the sandbox's ``/keys`` serves
(for SES, the certificate it fetches from ``SigningCertURL``).
"""

from __future__ import annotations

import json
import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from distro.sandbox import outcomes
from distro.sandbox.keys_api import build_keys_router
from distro.sandbox.options import APIS, WebhookOptions
from distro.sandbox.outcomes import choose_outcome, first_link
from distro.sandbox.store import StoredMessage
from distro.sandbox.webhooks import WebhookDispatcher
from distro.tracking import signatures as sig
from distro.tracking import sns_signatures as sns_sig
from distro.web.server import ServerThread, bind_socket

HOOK_USER = "hooks"
HOOK_PASSWORD = "s3cret-hook-password"
ID_KEY = "distro_message_id"
LINK = "https://acme.example/news/launch?utm=1&x=2"
HTML = f'<p>Read <a href="mailto:press@acme.example">us</a> or <a href="{LINK}">more</a></p>'


# --- the receiver --------------------------------------------------------------------------


@dataclass
class Record:
    """One event as the receiver understood it, provider-neutral enough to compare."""

    api: str
    recipient: str
    kind: str  # the provider's own event name, with the bounce kind where it has one
    custom: dict[str, str]
    event_id: str
    link: str = ""


@dataclass
class Post:
    api: str
    status: int
    records: list[Record] = field(default_factory=list)


class Receiver:
    """Webhook endpoints for the five formats; verifies, records, and can fail the first N."""

    def __init__(self, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.posts: list[Post] = []
        self.keys: dict[str, Any] = {}
        self.sns_certs: dict[str, str] = {}
        self.mailgun_tokens: set[str] = set()
        self.app = FastAPI()
        self.app.post("/{api}")(self.hook)

    async def hook(self, api: str, request: Request) -> JSONResponse:
        body = await request.body()
        try:
            records = await getattr(self, f"_{api}")(request, body)
        except PermissionError as exc:
            return self._answer(Post(api, 403), str(exc))
        with self.lock:
            failing = self.fail_first > 0
            self.fail_first -= 1 if failing else 0
        return self._answer(Post(api, 500 if failing else 200, records), "")

    def _answer(self, post: Post, problem: str) -> JSONResponse:
        with self.lock:
            self.posts.append(post)
        return JSONResponse({"problem": problem}, status_code=post.status)

    def records(self, custom_id: str) -> list[Record]:
        """Accepted events for one message (by our id), in arrival order."""
        with self.lock:
            found = [r for p in self.posts if p.status == 200 for r in p.records]
        return [r for r in found if r.custom.get(ID_KEY) == custom_id]

    async def _postmark(self, request: Request, body: bytes) -> list[Record]:
        header = request.headers.get("authorization", "")
        if not sig.check_basic_auth(header, [(HOOK_USER, HOOK_PASSWORD)]):
            raise PermissionError("basic auth")
        p = json.loads(body)
        kind = p["RecordType"] + (f":{p['Type']}" if p["RecordType"] == "Bounce" else "")
        recipient = p.get("Recipient") or p["Email"]
        return [
            Record(
                "postmark",
                recipient,
                kind,
                p["Metadata"],
                str(p.get("ID", "")),
                p.get("OriginalLink", ""),
            )
        ]

    async def _sendgrid(self, request: Request, body: bytes) -> list[Record]:
        ok = sig.verify_sendgrid(
            self.keys["sendgrid"]["public_key"],
            request.headers.get(sig.SENDGRID_TIMESTAMP_HEADER, ""),
            body,
            request.headers.get(sig.SENDGRID_SIGNATURE_HEADER, ""),
            max_age=300,
        )
        if not ok:
            raise PermissionError("ecdsa")
        found = []
        for e in json.loads(body):
            kind = e["event"] + (f":{e['type']}" if e["event"] == "bounce" else "")
            custom = {ID_KEY: e[ID_KEY]} if ID_KEY in e else {}
            found.append(
                Record("sendgrid", e["email"], kind, custom, e["sg_event_id"], e.get("url", ""))
            )
        return found

    async def _mailgun(self, request: Request, body: bytes) -> list[Record]:
        payload = json.loads(body)
        signed = payload["signature"]
        ok = sig.verify_mailgun(
            self.keys["mailgun"]["signing_key"],
            signed["timestamp"],
            signed["token"],
            signed["signature"],
            max_age=300,
        )
        with self.lock:
            replayed = signed["token"] in self.mailgun_tokens
            self.mailgun_tokens.add(signed["token"])
        if not ok or replayed:
            raise PermissionError("hmac")
        d = payload["event-data"]
        kind = d["event"] + (f":{d['severity']}" if d["event"] == "failed" else "")
        return [
            Record("mailgun", d["recipient"], kind, d["user-variables"], d["id"], d.get("url", ""))
        ]

    async def _ses(self, request: Request, body: bytes) -> list[Record]:
        envelope = json.loads(body)
        cert_url = envelope["SigningCertURL"]
        if envelope["TopicArn"] != self.keys["ses"]["topic_arn"]:
            raise PermissionError("topic")
        if not sns_sig.is_trusted_sns_cert_url(
            cert_url, trusted=[self.keys["ses"]["signing_cert_url"]]
        ):
            raise PermissionError("cert url")
        if cert_url not in self.sns_certs:
            async with httpx.AsyncClient() as client:
                self.sns_certs[cert_url] = (await client.get(cert_url)).text
        if not sns_sig.verify_sns(envelope, self.sns_certs[cert_url]):
            raise PermissionError("sns")
        assert request.headers["x-amz-sns-message-type"] == envelope["Type"] == "Notification"
        event = json.loads(envelope["Message"])
        kind = event["eventType"]
        detail = event[kind[0].lower() + kind[1:]]
        recipient = ses_recipient(event["mail"]["destination"], kind, detail)
        if kind == "Bounce":
            kind += ":" + detail["bounceType"]
        tags = {k: v[0] for k, v in event["mail"]["tags"].items() if not k.startswith("ses:")}
        return [Record("ses", recipient, kind, tags, envelope["MessageId"], detail.get("link", ""))]

    async def _resend(self, request: Request, body: bytes) -> list[Record]:
        h = request.headers
        ok = sig.verify_svix(
            self.keys["resend"]["secret"],
            h.get("svix-id", ""),
            h.get("svix-timestamp", ""),
            h.get("svix-signature", ""),
            body,
        )
        if not ok:
            raise PermissionError("svix")
        p = json.loads(body)
        data = p["data"]
        kind = p["type"] + (f":{data['bounce']['type']}" if "bounce" in data else "")
        tags = {t["name"]: t["value"] for t in data.get("tags", [])}
        link = data.get("click", {}).get("link", "")
        return [Record("resend", data["to"][0], kind, tags, h["svix-id"], link)]


def ses_recipient(destination: list[str], kind: str, detail: dict[str, Any]) -> str:
    """Whom an SES event is about; "*" when it is about a message to several recipients."""
    listed: list[str] = destination
    if kind == "Delivery":
        listed = detail["recipients"]
    elif kind in SES_RECIPIENT_LISTS:
        listed = [r["emailAddress"] for r in detail[SES_RECIPIENT_LISTS[kind]]]
    return listed[0] if len(listed) == 1 else "*"


SES_RECIPIENT_LISTS = {
    "Bounce": "bouncedRecipients",
    "Complaint": "complainedRecipients",
    "DeliveryDelay": "delayedRecipients",
}


# --- the sandbox side ----------------------------------------------------------------------


@dataclass
class Holder:
    """What ``build_keys_router`` needs of a sandbox."""

    webhooks: WebhookDispatcher


@dataclass
class Env:
    receiver: Receiver
    dispatcher: WebhookDispatcher
    sandbox_url: str

    def send(self, api: str, *recipients: str, html: str = HTML) -> str:
        """Submit one message through ``api``; wait for its webhooks; return its custom id."""
        custom_id = uuid.uuid4().hex
        self.dispatcher.submit(message(api, recipients, custom_id, html))
        assert self.dispatcher.wait_idle(20)
        return custom_id


def message(
    api: str, recipients: tuple[str, ...], custom_id: str, html: str = HTML
) -> StoredMessage:
    return StoredMessage(
        message_id=str(uuid.uuid4()),
        received_at=datetime.now(UTC),
        from_="Press Office <press@acme.example>",
        to=", ".join(recipients),
        recipients=recipients,
        subject="Embargoed: Acme launches",
        html_body=html,
        text_body="Hello",
        tag="release-7",
        api=api,
        custom_id=custom_id,
        custom_args={ID_KEY: custom_id},
    )


@contextmanager
def start(receiver: Receiver, **overrides: Any) -> Iterator[Env]:
    with ServerThread(receiver.app, bind_socket("127.0.0.1", 0)) as hooks:
        sandbox_socket = bind_socket("127.0.0.1", 0)
        sandbox_url = f"http://127.0.0.1:{sandbox_socket.getsockname()[1]}/sandbox"
        options = WebhookOptions(
            urls={api: f"{hooks.url}/{api}" for api in APIS},
            basic_username=HOOK_USER,
            basic_password=HOOK_PASSWORD,
            public_base_url=sandbox_url,
        )
        dispatcher = WebhookDispatcher(replace(options, **overrides), backoff=0.01)
        sandbox_app = FastAPI()
        sandbox_app.include_router(build_keys_router(Holder(dispatcher)))
        parent = FastAPI()
        parent.mount("/sandbox", sandbox_app)
        try:
            with ServerThread(parent, sandbox_socket):
                receiver.keys = httpx.get(f"{sandbox_url}/keys", timeout=10).json()
                yield Env(receiver, dispatcher, sandbox_url)
        finally:
            dispatcher.close()


@pytest.fixture(scope="module")
def env() -> Iterator[Env]:
    with start(Receiver()) as started:
        yield started


# --- every API x every outcome -------------------------------------------------------------

#: API -> outcome -> the provider's events for one recipient, in order.
EXPECTED: dict[str, dict[str, list[str]]] = {
    "postmark": {
        "delivery": ["Delivery"],
        "hard_bounce": ["Bounce:HardBounce"],
        "soft_bounce": ["Bounce:SoftBounce"],
        "complaint": ["Delivery", "SpamComplaint"],
        "deferred": ["Bounce:Transient", "Delivery"],
        "open": ["Delivery", "Open"],
        "click": ["Delivery", "Open", "Click"],
        "unsubscribe": ["Delivery", "SubscriptionChange"],
    },
    "sendgrid": {
        "delivery": ["processed", "delivered"],
        "hard_bounce": ["processed", "bounce:bounce"],
        "soft_bounce": ["processed", "bounce:blocked"],
        "complaint": ["processed", "delivered", "spamreport"],
        "deferred": ["processed", "deferred", "delivered"],
        "open": ["processed", "delivered", "open"],
        "click": ["processed", "delivered", "open", "click"],
        "unsubscribe": ["processed", "delivered", "unsubscribe"],
    },
    "mailgun": {
        "delivery": ["accepted", "delivered"],
        "hard_bounce": ["accepted", "failed:permanent"],
        "soft_bounce": ["accepted", "failed:temporary"],
        "complaint": ["accepted", "delivered", "complained"],
        "deferred": ["accepted", "failed:temporary", "delivered"],
        "open": ["accepted", "delivered", "opened"],
        "click": ["accepted", "delivered", "opened", "clicked"],
        "unsubscribe": ["accepted", "delivered", "unsubscribed"],
    },
    "ses": {
        "delivery": ["Send", "Delivery"],
        "hard_bounce": ["Send", "Bounce:Permanent"],
        "soft_bounce": ["Send", "Bounce:Transient"],
        "complaint": ["Send", "Delivery", "Complaint"],
        "deferred": ["Send", "DeliveryDelay", "Delivery"],
        "open": ["Send", "Delivery", "Open"],
        "click": ["Send", "Delivery", "Open", "Click"],
        "unsubscribe": ["Send", "Delivery"],  # SES has no unsubscribe event of its own
    },
    "resend": {
        "delivery": ["email.sent", "email.delivered"],
        "hard_bounce": ["email.sent", "email.bounced:Permanent"],
        "soft_bounce": ["email.sent", "email.bounced:Transient"],
        "complaint": ["email.sent", "email.delivered", "email.complained"],
        "deferred": ["email.sent", "email.delivery_delayed", "email.delivered"],
        "open": ["email.sent", "email.delivered", "email.opened"],
        "click": ["email.sent", "email.delivered", "email.opened", "email.clicked"],
        "unsubscribe": ["email.sent", "email.delivered"],  # nor has Resend
    },
}

#: Outcome -> an address that asks for it.
ADDRESSES = {
    name: f"{local}+t@news.example" for local, name in outcomes.LOCAL_PART_OUTCOMES.items()
}


def test_every_api_and_outcome_is_covered() -> None:
    assert set(EXPECTED) == set(APIS)
    assert all(set(by_outcome) == set(outcomes.OUTCOMES) for by_outcome in EXPECTED.values())


@pytest.mark.parametrize("outcome", sorted(outcomes.OUTCOMES))
@pytest.mark.parametrize("api", APIS)
def test_events_arrive_in_the_providers_shape_in_order_authenticated(
    env: Env, api: str, outcome: str
) -> None:
    address = ADDRESSES[outcome]
    custom_id = env.send(api, address)
    records = env.receiver.records(custom_id)
    assert [r.kind for r in records] == EXPECTED[api][outcome]
    assert {r.recipient for r in records} == {address}
    assert all(r.custom == {ID_KEY: custom_id} for r in records)
    assert all(r.api == api for r in records)
    clicks = [r.link for r in records if r.link]
    assert clicks == ([LINK] if outcome == "click" else [])
    ids = [r.event_id for r in records if r.event_id]
    assert len(ids) == len(set(ids))
    assert all(p.status == 200 for p in env.receiver.posts)  # none failed authentication


@pytest.mark.parametrize("api", APIS)
def test_events_of_each_recipient_keep_their_order(env: Env, api: str) -> None:
    addresses = (ADDRESSES["click"], ADDRESSES["hard_bounce"], "jo@news.example")
    custom_id = env.send(api, *addresses)
    records = env.receiver.records(custom_id)
    per_message = {"Send", "Open", "Click"} if api == "ses" else set()
    for address, outcome in zip(addresses, ("click", "hard_bounce", "delivery"), strict=True):
        kinds = [k for k in EXPECTED[api][outcome] if k not in per_message]
        assert [r.kind for r in records if r.recipient == address] == kinds
    if api == "ses":  # sent once for the message; opens and clicks name no recipient
        assert records[0].kind == "Send"
        assert [r.kind for r in records if r.recipient == "*"] == ["Send", "Open", "Click"]


@pytest.mark.parametrize("api", APIS)
def test_a_click_without_a_link_is_just_an_open(env: Env, api: str) -> None:
    html = '<p>No <a href="mailto:x@acme.example">web</a> link</p>'
    custom_id = env.send(api, ADDRESSES["click"], html=html)
    assert [r.kind for r in env.receiver.records(custom_id)] == EXPECTED[api]["open"]


def test_sendgrid_posts_the_events_of_a_message_together(env: Env) -> None:
    before = len(env.receiver.posts)
    custom_id = env.send("sendgrid", ADDRESSES["click"], ADDRESSES["complaint"])
    new = env.receiver.posts[before:]
    assert len(new) == 1
    assert len(new[0].records) == 7
    assert all(r.custom[ID_KEY] == custom_id for r in new[0].records)


def test_ses_posts_name_the_sandbox_certificate(env: Env) -> None:
    assert env.receiver.keys["ses"]["signing_cert_url"] == f"{env.sandbox_url}/keys/sns-cert.pem"
    assert set(env.receiver.keys) == {"sendgrid", "mailgun", "resend", "ses"}
    pem = httpx.get(f"{env.sandbox_url}/keys/sns-cert.pem", timeout=10).text
    assert pem.startswith("-----BEGIN CERTIFICATE-----")


def test_message_of_an_api_without_a_url_posts_nothing(env: Env) -> None:
    dispatcher = WebhookDispatcher(WebhookOptions(urls={"postmark": "http://127.0.0.1:9/x"}))
    before = {t.name for t in threading.enumerate()}
    dispatcher.submit(message("sendgrid", ("jo@news.example",), "x"))
    assert dispatcher.wait_idle(0.1)
    assert not {t.name for t in threading.enumerate()} - before
    dispatcher.close()


# --- retries -------------------------------------------------------------------------------


@pytest.mark.parametrize("api", APIS)
def test_a_refused_post_is_retried_with_the_same_event_ids(api: str) -> None:
    with start(Receiver(fail_first=1)) as env:
        custom_id = env.send(api, "jo@news.example")
        posts = env.receiver.posts
        assert [p.status for p in posts][:2] == [500, 200]  # verified both times
        first, retry = posts[0].records, posts[1].records
        assert [r.event_id for r in first] == [r.event_id for r in retry]
        assert [r.kind for r in env.receiver.records(custom_id)] == EXPECTED[api]["delivery"]


def test_sns_signature_version_2_verifies() -> None:
    with start(Receiver(), sns_signature_version="2") as env:
        custom_id = env.send("ses", ADDRESSES["open"])
        assert [r.kind for r in env.receiver.records(custom_id)] == EXPECTED["ses"]["open"]
        assert env.receiver.keys["ses"]["signature_version"] == "2"


def test_configured_keys_are_used() -> None:
    private_pem, public = sig.generate_sendgrid_key()
    with start(Receiver(), sendgrid_private_key_pem=private_pem, mailgun_signing_key="mg") as env:
        assert env.receiver.keys["sendgrid"]["public_key"] == public
        assert env.receiver.keys["mailgun"]["signing_key"] == "mg"
        custom_id = env.send("sendgrid", "jo@news.example")
        assert [r.kind for r in env.receiver.records(custom_id)] == EXPECTED["sendgrid"]["delivery"]


# --- outcome choice ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "outcome"),
    [
        ("bounce@news.example", "hard_bounce"),
        ("Bounce+42@news.example", "hard_bounce"),
        ("softbounce+1@news.example", "soft_bounce"),
        ("complaint@news.example", "complaint"),
        ("deferred+x@news.example", "deferred"),
        ("OPEN@news.example", "open"),
        ("click+7@news.example", "click"),
        ("unsubscribe@news.example", "unsubscribe"),
        ("bouncer@news.example", "delivery"),
        ("no.bounce@news.example", "delivery"),
        ("jo@bounce.example", "delivery"),
    ],
)
def test_address_patterns(address: str, outcome: str) -> None:
    assert choose_outcome(address) == outcome
    assert choose_outcome(address, {"complaint": 1.0}) == (
        outcome if outcome != "delivery" else "complaint"
    )


def test_first_link_is_the_first_web_link() -> None:
    assert first_link(HTML) == LINK
    assert (
        first_link('<a href="ftp://x">a</a><a href=" HTTP://b.example/ ">b</a>')
        == "HTTP://b.example/"
    )
    assert first_link("<p>plain</p>") is None


def split(seed: int) -> list[tuple[str, str]]:
    with start(Receiver(), outcome_rates={"hard_bounce": 0.25, "open": 0.25}, seed=seed) as env:
        recipients = tuple(f"r{i}@news.example" for i in range(40))
        custom_id = env.send("postmark", *recipients)
        return [(r.recipient, r.kind) for r in env.receiver.records(custom_id)]


def test_outcome_rates_with_a_seed_give_a_repeatable_split() -> None:
    first = split(seed=7)
    assert first == split(seed=7)
    kinds = [kind for _, kind in first]
    assert {"Bounce:HardBounce", "Delivery", "Open"} <= set(kinds)
    assert first != split(seed=8)


def test_rates_leave_the_rest_to_delivery_and_scale_down_above_one() -> None:
    rng = random.Random(1)
    picks = [choose_outcome(f"r{i}@x.example", {"open": 0.2}, rng) for i in range(1000)]
    assert 120 < picks.count("open") < 280
    assert picks.count("delivery") == 1000 - picks.count("open")
    picks = [choose_outcome("r@x.example", {"open": 2.0, "click": 2.0}, rng) for _ in range(1000)]
    assert set(picks) == {"open", "click"}


@pytest.mark.parametrize(
    ("options", "wording"),
    [
        (WebhookOptions(outcome_rates={"explode": 0.5}), "unknown outcome"),
        (WebhookOptions(outcome_rates={"open": -0.5}), "negative"),
        (WebhookOptions(urls={"smtp": "http://x"}), "unknown APIs"),
    ],
)
def test_bad_options_are_refused_up_front(options: WebhookOptions, wording: str) -> None:
    with pytest.raises(ValueError, match=wording):
        WebhookDispatcher(options)
