"""The embargo invariant, as a property: for random embargo times, send kinds and times, and
embargo moves at random moments, no email without the embargo notice is ever handed to a
provider before the lift in force at that moment.

The whole stack runs on a simulated clock: scheduling validation, firing (``fire_send``), the
sender with its hand-over guard, and the real Postmark adapter, whose HTTP requests end at an
``httpx.MockTransport`` that records what a provider would have received and when.
"""

from __future__ import annotations

import email.utils
import json
import shutil
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import jinja2
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from distro.audience.lists import add_members, get_or_create_list
from distro.db import make_engine, upgrade
from distro.errors import EmbargoError
from distro.models import Contact, ContactTag, Release, Send, SendStatus
from distro.providers.base import make_client
from distro.providers.postmark import PostmarkProvider
from distro.releases.lifecycle import edit_release
from distro.rendering import make_environment
from distro.sending.engine import ProviderPool, Sender
from distro.sending.expand import fire_send
from distro.sending.scheduling import Audience, schedule_send
from distro.tracking.links import LinkSigner
from tests.conftest import make_settings
from tests.factories import add_release

T0 = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
HORIZON = timedelta(hours=6)


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class Handover:
    at: datetime
    to: str
    subject: str
    html: str
    message_id: str


@dataclass
class RecordingProvider:
    """What a provider received: the request ends here instead of crossing the network."""

    clock: Clock
    received: list[Handover] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        batch = json.loads(request.content)
        answers = []
        for index, message in enumerate(batch):
            self.received.append(
                Handover(
                    self.clock.now,
                    message["To"],
                    message["Subject"],
                    message["HtmlBody"],
                    message["Metadata"]["distro_message_id"],
                )
            )
            answers.append(
                {
                    "ErrorCode": 0,
                    "Message": "OK",
                    "MessageID": f"pm-{len(self.received)}-{index}",
                    "To": message["To"],
                    "SubmittedAt": self.clock.now.isoformat(),
                }
            )
        return httpx.Response(200, json=answers)


@pytest.fixture(scope="module")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated database file, copied for every example (migrating each time is slow)."""
    path = tmp_path_factory.mktemp("template") / "distro.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="module")
def environment() -> jinja2.Environment:
    return make_environment()


def fresh_engine(template: Path, folder: Path, name: str) -> Engine:
    copy = folder / f"{name}.db"
    shutil.copy(template, copy)
    return make_engine(f"sqlite:///{copy}")


def seed_audience(engine: Engine) -> None:
    """Three ordinary contacts on "all"; two of them and a third are trusted, on "trusted"."""
    with Session(engine) as session:
        people = [
            Contact(email=f"journalist{i}@outlet.example", first_name=f"J{i}") for i in range(5)
        ]
        session.add_all(people)
        session.flush()
        ids = [p.id for p in people if p.id is not None]
        session.add_all(ContactTag(contact_id=i, tag="embargo-ok") for i in ids[3:])
        add_members(session, get_or_create_list(session, "all"), ids)
        add_members(session, get_or_create_list(session, "trusted"), ids[3:])
        session.commit()


def lift_at(engine: Engine, release_id: int) -> datetime | None:
    with Session(engine) as session:
        release = session.get(Release, release_id)
        assert release is not None
        return release.embargo_at


@dataclass(frozen=True)
class Plan:
    lift: int  # minutes after T0 (may be in the past)
    fixed_at: int  # an ordinary send at a fixed time
    advance_at: int  # an advance copy (with the notice) to trusted contacts
    move_at: int  # when staff move the embargo
    new_lift: int  # ... to here


plans = st.builds(
    Plan,
    lift=st.integers(min_value=-30, max_value=240),
    fixed_at=st.integers(min_value=0, max_value=300),
    advance_at=st.integers(min_value=0, max_value=240),
    move_at=st.integers(min_value=0, max_value=300),
    new_lift=st.integers(min_value=-30, max_value=330),
)


def moments(plan: Plan) -> list[datetime]:
    """The simulated clock's ticks: every planned moment and a minute either side of it."""
    offsets = {0, int(HORIZON.total_seconds() // 60)}
    for planned in (plan.lift, plan.fixed_at, plan.advance_at, plan.move_at, plan.new_lift):
        offsets |= {planned - 1, planned, planned + 1}
    return [_minutes(m) for m in sorted(offsets) if 0 <= m <= HORIZON.total_seconds() // 60]


def _minutes(offset: int) -> datetime:
    return T0 + timedelta(minutes=offset)


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    return tmp_path


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=plans)
def test_no_email_without_the_notice_leaves_before_the_lift(
    plan: Plan, migrated_template: Path, environment: jinja2.Environment, scratch: Path
) -> None:
    engine = fresh_engine(migrated_template, scratch, "property")
    try:
        run_plan(engine, environment, plan)
    finally:
        engine.dispose()
        (scratch / "property.db").unlink()


def run_plan(engine: Engine, environment: jinja2.Environment, plan: Plan) -> None:
    clock = Clock()
    settings_ = make_settings(
        engine.url.render_as_string(hide_password=False), scheduler={"max_lateness": "1d"}
    )
    seed_audience(engine)
    release = add_release(engine, embargo_at=_minutes(plan.lift))
    assert release.id is not None
    provider = RecordingProvider(clock)
    pool = ProviderPool(
        settings_,
        lambda name: PostmarkProvider(
            name,
            make_client("https://pm.test", {}, transport=httpx.MockTransport(provider.handle)),
            message_stream="broadcast",
        ),
    )
    sender = Sender(settings_, engine, environment, LinkSigner("k" * 32), pool, clock)

    def schedule(**kwargs: object) -> None:
        try:
            schedule_send(
                engine,
                settings_,
                release_id=release.id,  # type: ignore[arg-type]
                now=clock.now,
                **kwargs,  # type: ignore[arg-type]
            )
        except EmbargoError:
            # Refused at scheduling: an ordinary send before the lift, or an untrusted audience.
            assert kwargs.get("advance_copy") or (
                kwargs.get("at") is not None and kwargs["at"] < _minutes(plan.lift)  # type: ignore[operator]
            )

    schedule(audience=Audience(["all"]))  # the default: at the lift (or now, if lifted)
    schedule(audience=Audience(["all"]), at=_minutes(plan.fixed_at))
    if plan.advance_at < plan.lift:
        schedule(audience=Audience(["trusted"]), at=_minutes(plan.advance_at), advance_copy=True)
        with pytest.raises(EmbargoError):  # an advance copy never goes to untrusted contacts
            schedule_send(
                engine,
                settings_,
                release_id=release.id,
                audience=Audience(["all"]),
                at=_minutes(plan.advance_at),
                advance_copy=True,
                now=clock.now,
            )

    moved = False
    for clock.now in moments(plan):
        if not moved and clock.now >= _minutes(plan.move_at):
            with Session(engine) as session:
                stored = session.get(Release, release.id)
                assert stored is not None
                edit_release(session, stored, {"embargo_at": _minutes(plan.new_lift)})
                session.commit()
            moved = True
        with Session(engine) as session:
            due = session.exec(
                select(col(Send.id)).where(
                    Send.status == SendStatus.SCHEDULED, col(Send.scheduled_at) <= clock.now
                )
            ).all()
        for send_id in due:
            assert send_id is not None
            fire_send(engine, settings_, send_id, clock.now)
        while sender.run_once("sim") is not None:
            pass
        lift = lift_at(engine, release.id)
        for handed in provider.received:
            if handed.at == clock.now and "EMBARGOED" not in handed.subject:
                assert lift is None or handed.at >= lift, (
                    f"{handed.to} got the release without the notice at {handed.at}, "
                    f"before the lift at {lift}"
                )

    for handed in provider.received:
        notice = "EMBARGOED" in handed.subject
        assert notice == ("EMBARGOED: not for publication" in handed.html)
        if notice:  # advance copies went to trusted contacts only
            address = email.utils.parseaddr(handed.to)[1]
            assert address in {"journalist3@outlet.example", "journalist4@outlet.example"}
    # Every message was handed over at most once.
    handed_ids = [h.message_id for h in provider.received]
    assert len(handed_ids) == len(set(handed_ids))
