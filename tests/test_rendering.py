"""The email as a journalist gets it: MIME structure and headers, signed links, escaping of every
contact field, the fast (slot-filling) path against a full render, greetings, the embargo
notice, template errors with their place, and the sandbox around staff-edited templates."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import UTC, date, datetime
from email.message import EmailMessage
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import jinja2
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine
from sqlmodel import Session, func, select

from distro.config import Settings
from distro.errors import TemplateError
from distro.models import Contact, Release, ReleaseStatus, Send
from distro.providers.mime import to_mime
from distro.rendering import PreparedRelease, RenderedEmail, email_inliner, make_environment
from distro.sending.compose import Composer
from distro.sending.scheduling import Audience, schedule_send
from distro.tracking.links import LinkPurpose, LinkSigner
from tests.conftest import make_settings
from tests.factories import add_contacts, add_release

SETTINGS = make_settings("sqlite://")
SECRET = SETTINGS.server.secret_key.get_secret_value()
LIFT = datetime(2030, 1, 1, 17, 0, tzinfo=UTC)  # 09:00 PST
BODY = """The Harbor City Public Library today opened **The Harbor Record Archive**, a *free*
online collection of every issue of the city's newspapers.

What the archive offers:

- full-text search across 2.1 million pages;
- a reading room for reporters.

> "Local news is the first draft of a city's memory," said Dana Whitfield.

Read more at [the archive](https://archive.example.org/about).
"""


def release(*, embargo: bool = True) -> Release:
    return Release(
        id=42,
        slug="harbor-archive",
        title="Harbor City Library opens its newspaper archive",
        subtitle="Two million pages, free to search from home",
        dateline="HARBOR CITY, Ore.",
        release_date=date(2029, 12, 30),
        body_md=BODY,
        boilerplate="The Harbor City Public Library serves 180,000 residents.",
        media_contacts=[
            {
                "name": "Priya Raman",
                "role": "Communications Manager",
                "phone": "+1 503 555 0142",
                "email": "press@harborlibrary.example",
            },
            {"name": "Tom Ode", "role": "Archivist", "phone": "", "email": "tom@harbor.example"},
        ],
        asset_links=[
            {"label": "Photos", "url": "https://harborlibrary.example/photos.zip"},
            {"label": "Fact sheet", "url": "https://harborlibrary.example/facts.pdf"},
        ],
        embargo_at=LIFT if embargo else None,
        embargo_tz="America/Los_Angeles",
        status=ReleaseStatus.APPROVED,
    )


AMARA = Contact(
    id=7,
    email="amara@news.example",
    first_name="Amara",
    last_name="Okafor",
    outlet="Harbor Herald",
    title="Reporter",
    timezone="Europe/Paris",
)


def composer(
    environment: jinja2.Environment | None = None,
    *,
    notice: bool = False,
    embargo: bool = True,
    settings_: Settings = SETTINGS,
) -> Composer:
    return Composer(
        settings_,
        environment or make_environment(),
        LinkSigner(SECRET),
        release(embargo=embargo),
        "release",
        embargo_notice=notice,
    )


def parsed(message: EmailMessage) -> EmailMessage:
    back = email.message_from_bytes(message.as_bytes(), policy=email.policy.default)
    assert isinstance(back, EmailMessage)
    return back


def part(message: EmailMessage, subtype: str) -> str:
    body = message.get_body(preferencelist=(subtype,))
    assert body is not None
    assert body.get_content_type() == f"text/{subtype}"
    return str(body.get_content())


# ---------------------------------------------------------------------- the MIME message


def test_mime_message_as_received() -> None:
    message = parsed(to_mime(composer().compose(1001, AMARA)))
    assert message.get_content_type() == "multipart/alternative"
    kinds = [p.get_content_type() for p in message.iter_parts()]
    assert kinds == ["text/plain", "text/html"]
    assert message["From"].addresses[0].addr_spec == SETTINGS.sending.from_email
    assert message["To"].addresses[0].addr_spec == "amara@news.example"
    assert message["To"].addresses[0].display_name == "Amara Okafor"
    assert message["Subject"] == "Harbor City Library opens its newspaper archive"
    assert message["Date"].datetime is not None
    # A long Message-ID is folded onto its own line; the parser keeps the folding space.
    assert re.fullmatch(r"<[^<>@\s]+@[^<>@\s]+>", str(message["Message-ID"]).strip())
    unsubscribe = message.get_all("List-Unsubscribe")
    assert unsubscribe is not None
    assert len(unsubscribe) == 1
    assert re.fullmatch(r"<https?://[^<>,\s]+>", str(unsubscribe[0]))
    assert message.get_all("List-Unsubscribe-Post") == ["List-Unsubscribe=One-Click"]

    html, text = part(message, "html"), part(message, "plain")
    for rendered in (html, text):
        assert "Dear Amara," in rendered
        assert "Two million pages, free to search from home" in rendered
        assert "Priya Raman" in rendered
        assert "Tom Ode" in rendered
        assert "https://harborlibrary.example/facts.pdf" in rendered
        assert "180,000 residents" in rendered
        assert "December 30, 2029" in rendered
    assert "<strong>The Harbor Record Archive</strong>" in html
    assert "<em>free</em>" in html
    assert "<li>a reading room for reporters.</li>" in html
    assert "<blockquote" in html
    assert re.search(r'<a href="https://archive\.example\.org/about"[^>]*>the archive</a>', html)
    # CSS inlined and its style block dropped; only the phone rules (@media) are kept.
    styles = re.findall(r"<style>(.*?)</style>", html, flags=re.DOTALL)
    assert [style.split("{")[0].strip() for style in styles] == [
        "@media screen and (max-width: 600px)"
    ]
    assert 'style="' in html
    assert "HARBOR CITY LIBRARY OPENS ITS NEWSPAPER ARCHIVE" in text
    assert "**The Harbor Record Archive**" in text  # the text part keeps the Markdown


def link_of(rendered: str, pattern: str) -> str:
    found = re.findall(pattern, rendered)
    assert found, f"{pattern} not found"
    assert len(set(found)) == 1
    return str(found[0])


def test_links_carry_signed_tokens_for_their_purpose_only() -> None:
    message_id = 1234
    outbound = composer().compose(message_id, AMARA)
    message = parsed(to_mime(outbound))
    html, text = part(message, "html"), part(message, "plain")
    signer = LinkSigner(SECRET)
    base = re.escape(SETTINGS.server.base_url)
    header = str(message["List-Unsubscribe"])
    for rendered in (html, text):
        unsubscribe = link_of(rendered, rf"{base}/u/([A-Za-z0-9_.\-]+)")
        view = link_of(rendered, rf"{base}/releases/harbor-archive\?t=([A-Za-z0-9_.\-]+)")
        assert header == f"<{SETTINGS.server.base_url}/u/{unsubscribe}>"
        assert signer.verify(LinkPurpose.UNSUBSCRIBE, unsubscribe) == message_id
        assert signer.verify(LinkPurpose.WEB_COPY, view) == message_id
        assert signer.verify(LinkPurpose.WEB_COPY, unsubscribe) is None
        assert signer.verify(LinkPurpose.UNSUBSCRIBE, view) is None
        tampered = view[:-1] + ("A" if view[-1] != "A" else "B")
        assert signer.verify(LinkPurpose.WEB_COPY, tampered) is None
        assert LinkSigner("another-secret-" + "y" * 20).verify(LinkPurpose.WEB_COPY, view) is None
    other = composer().compose(message_id + 1, AMARA)
    assert other.headers["List-Unsubscribe"] != outbound.headers["List-Unsubscribe"]


# ---------------------------------------------------------------------- escaping

HOSTILE = '<script>alert(1)</script> "{}" & co'
FIELDS = ("first_name", "last_name", "outlet", "title", "region", "country", "language")


def write_custom_templates(folder: Path) -> Path:
    (folder / "email").mkdir(parents=True)
    (folder / "email" / "release.html").write_text(
        '{% extends "default:email/release.html" %}\n'
        "{% block content %}\n"
        '<p class="desk" title="{{ contact.outlet }}">Desk: {{ contact.custom.desk }}</p>\n'
        "<p>{{ contact.outlet }}|{{ contact.first_name }}|{{ contact.last_name }}|"
        "{{ contact.full_name }}|{{ contact.title }}|{{ contact.region }}|"
        "{{ contact.country }}|{{ contact.language }}|{{ contact.timezone }}|"
        "{{ contact.custom.missing }}</p>\n"
        "{{ super() }}\n"
        "{% endblock %}\n",
        encoding="utf-8",
    )
    (folder / "email" / "release.txt").write_text(
        '{% include "default:email/release.txt" %}\n'
        "Desk: {{ contact.custom.desk }} / {{ contact.outlet }} / {{ contact.timezone }}\n",
        encoding="utf-8",
    )
    return folder


class Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.data: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_data(self, data: str) -> None:
        self.data.append(data)


def test_every_contact_field_is_escaped_in_html_and_verbatim_in_text(tmp_path: Path) -> None:
    folder = write_custom_templates(tmp_path / "templates")
    hostile = {name: HOSTILE.format(name) for name in FIELDS}
    contact = Contact(
        id=9,
        email='"<script>alert(1)</script>&x"@example.org',
        timezone=HOSTILE.format("timezone"),
        custom={"desk": HOSTILE.format("desk")},
    )
    for name, value in hostile.items():
        setattr(contact, name, value)
    made = composer(make_environment(folder), notice=True)
    assert made.prepared.fast is True
    rendered = made.render(5, contact)
    values = [*hostile.values(), contact.timezone, contact.custom["desk"], contact.email]

    # Text: escaped by Jinja. The one attribute value: quoted, its " and & escaped (the
    # serialiser leaves < and > as they are inside a quoted attribute, which is safe).
    in_attribute = HOSTILE.format("outlet").replace("&", "&amp;").replace('"', "&quot;")
    assert f'title="{in_attribute}"' in rendered.html
    assert rendered.html.count("<script>") == 1
    assert rendered.html.replace(f'title="{in_attribute}"', "").count("<script") == 0
    for value in values:
        text_escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
        assert text_escaped in rendered.html
    assert "& co" not in rendered.html
    for value in values:
        assert value not in rendered.html
    collector = Collector()
    collector.feed(rendered.html)
    collector.close()
    assert "script" not in collector.tags
    text_content = "".join(collector.data)
    for value in values:
        assert value in text_content  # shown to the reader exactly as stored
    assert ("title", HOSTILE.format("outlet")) in collector.attributes

    assert "Dear " + hostile["first_name"] + "," in rendered.text
    assert contact.email in rendered.text
    desk = f"Desk: {contact.custom['desk']} / {hostile['outlet']} / {contact.timezone}"
    assert desk in rendered.text
    assert "<script>" not in rendered.subject  # the packaged subject has no personal values


# ---------------------------------------------------------------------- fast path = full render

INLINER = email_inliner()
ENVIRONMENT = make_environment()
FAST = composer(ENVIRONMENT, notice=True)
MARKUP = st.sampled_from(["<", ">", "&", '"', "'", "<b>", "&amp;", "\r\n", "\r", "\n", "\0"])
MARKUP_NBSP = st.sampled_from(["\u00a0", "é", "日本", "😀", "\u200b", "{{ x }}", "\ue000"])
# Any text a database can hold: lone surrogates cannot be stored or encoded, so none here.
FIELD_TEXT = st.lists(
    st.one_of(MARKUP, MARKUP_NBSP, st.characters(codec="utf-8")), max_size=12
).map("".join)
ZONES = st.one_of(
    st.sampled_from(["", "UTC", "Europe/Paris", "America/Los_Angeles", "Asia/Kolkata", "No/Zone"]),
    FIELD_TEXT,
)


def full_render(
    environment: jinja2.Environment, prepared: PreparedRelease, values: dict[str, Any]
) -> RenderedEmail:
    """What one recipient's email is by definition: Jinja on everything, then CSS inlining."""
    context = {**prepared.common, **values}
    subject = environment.get_template("email/release.subject.txt").render(context)
    html = environment.get_template("email/release.html").render(context)
    text = environment.get_template("email/release.txt").render(context)
    return RenderedEmail(" ".join(subject.split()), INLINER.inline(html), text)


@settings(max_examples=150, deadline=None)
@given(
    first_name=FIELD_TEXT,
    last_name=FIELD_TEXT,
    email_address=FIELD_TEXT,
    outlet=FIELD_TEXT,
    zone_name=ZONES,
    message_id=st.integers(min_value=0, max_value=2**40),
)
def test_fast_path_equals_a_full_render(
    first_name: str,
    last_name: str,
    email_address: str,
    outlet: str,
    zone_name: str,
    message_id: int,
) -> None:
    assert FAST.prepared.fast is True
    contact = Contact(
        email=email_address,
        first_name=first_name,
        last_name=last_name,
        outlet=outlet,
        timezone=zone_name,
    )
    values = FAST.values(message_id, contact)
    assert FAST.prepared.personalise(values) == full_render(ENVIRONMENT, FAST.prepared, values)


@pytest.fixture(scope="module")
def custom_environment(tmp_path_factory: pytest.TempPathFactory) -> jinja2.Environment:
    return make_environment(write_custom_templates(tmp_path_factory.mktemp("custom")))


@settings(max_examples=100, deadline=None)
@given(outlet=FIELD_TEXT, desk=FIELD_TEXT, title=FIELD_TEXT, zone_name=ZONES)
def test_fast_path_equals_a_full_render_with_values_in_attributes(
    custom_environment: jinja2.Environment, outlet: str, desk: str, title: str, zone_name: str
) -> None:
    made = composer(custom_environment, notice=True)
    assert made.prepared.fast is True
    contact = Contact(
        email="x@news.example",
        outlet=outlet,
        title=title,
        timezone=zone_name,
        custom={"desk": desk},
    )
    values = made.values(3, contact)
    assert made.prepared.personalise(values) == full_render(
        custom_environment, made.prepared, values
    )


def test_fast_path_fills_real_values_for_many_recipients() -> None:
    names = ["Amara", "", "Zoë <Z>", "O'Brien & Sons"]
    rendered = [
        FAST.render(i, Contact(email=f"r{i}@x.example", first_name=name))
        for i, name in enumerate(names)
    ]
    assert "Dear Amara," in rendered[0].text
    assert "Hello," in rendered[1].text
    assert "Dear Zoë &lt;Z&gt;," in rendered[2].html
    assert "Dear O'Brien &amp; Sons," in rendered[3].html
    assert "\ue000" not in "".join(r.html + r.text + r.subject for r in rendered)
    assert len({r.html for r in rendered}) == len(names)


def test_personal_value_in_a_condition_falls_back_to_full_render(tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "release.html").write_text(
        '{% extends "default:email/release.html" %}\n'
        "{% block title %}{% if contact.first_name %}For {{ contact.first_name }}"
        "{% else %}For you{% endif %}{% endblock %}\n",
        encoding="utf-8",
    )
    slow = composer(make_environment(tmp_path))
    assert slow.prepared.fast is False
    assert any("contact.first_name is used in a condition" in p for p in slow.prepared.problems)
    named = slow.render(1, AMARA)
    unnamed = slow.render(2, Contact(email="desk@news.example"))
    assert "<title>For Amara</title>" in named.html
    assert "<title>For you</title>" in unnamed.html
    assert "Dear Amara," in named.html
    assert "Hello," in unnamed.html
    assert "\ue000" not in named.html + unnamed.html
    assert composer().prepared.fast is True


def test_personal_value_marked_safe_falls_back_and_is_not_escaped(tmp_path: Path) -> None:
    (tmp_path / "email").mkdir()
    (tmp_path / "email" / "release.html").write_text(
        '{% extends "default:email/release.html" %}\n'
        '{% block content %}<div id="bio">{{ contact.custom.bio | safe }}</div>'
        "{{ super() }}{% endblock %}\n",
        encoding="utf-8",
    )
    environment = make_environment(tmp_path)
    made = composer(environment)
    assert made.prepared.fast is False
    assert "contact.custom.bio is used in 'safe'" in made.prepared.problems
    values = made.values(1, Contact(email="a@news.example", custom={"bio": "<b>Editor</b>"}))
    rendered = made.prepared.personalise(values)
    assert '<div id="bio"><b>Editor</b></div>' in rendered.html
    assert rendered == full_render(environment, made.prepared, values)


# ---------------------------------------------------------------------- greeting and embargo


def test_greeting_falls_back_without_a_first_name() -> None:
    made = composer()
    named = made.render(1, AMARA)
    unnamed = made.render(2, Contact(email="desk@news.example", last_name="Desk"))
    for rendered in (named.html, named.text):
        assert "Dear Amara," in rendered
        assert "Hello," not in rendered
    for rendered in (unnamed.html, unnamed.text):
        assert "Hello," in rendered
        assert "Dear" not in rendered


NOTICE = (
    "EMBARGOED: not for publication or broadcast before "
    "09:00 PST on Tuesday 1 January 2030 (17:00 UTC)."
)


def test_embargo_notice_only_on_an_advance_copy() -> None:
    ordinary = composer(notice=False).render(1, AMARA)
    unembargoed = composer(notice=True, embargo=False).render(1, AMARA)
    for rendered in (ordinary, unembargoed):
        assert "EMBARGO" not in rendered.subject
        assert "EMBARGO" not in rendered.html
        assert "EMBARGO" not in rendered.text
        assert rendered.subject == "Harbor City Library opens its newspaper archive"

    advance = composer(notice=True)
    in_paris = advance.render(1, AMARA)
    assert in_paris.subject == (
        "EMBARGOED until 09:00 PST 1 Jan 2030: Harbor City Library opens its newspaper archive"
    )
    local = " That is 18:00 CET on Tuesday where you are."
    assert f"<strong>{NOTICE}</strong>{local}</td>" in in_paris.html
    assert in_paris.text.startswith(f"*** {NOTICE}{local} ***")

    same_zone = advance.render(2, Contact(email="la@x.example", timezone="America/Los_Angeles"))
    no_zone = advance.render(3, Contact(email="nz@x.example"))
    unknown_zone = advance.render(4, Contact(email="uz@x.example", timezone="Mars/Olympus"))
    for rendered in (same_zone, no_zone, unknown_zone):
        assert rendered.subject == in_paris.subject
        assert NOTICE in rendered.html
        assert NOTICE in rendered.text
        assert "where you are" not in rendered.html
        assert "where you are" not in rendered.text


# ---------------------------------------------------------------------- template errors


def user_folder(tmp_path: Path, files: dict[str, str]) -> Path:
    folder = tmp_path / "user-templates"
    for name, source in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(source, encoding="utf-8")
    return folder


def test_syntax_error_names_template_line_and_cause(tmp_path: Path) -> None:
    folder = user_folder(
        tmp_path, {"email/release.html": "<p>line one</p>\n<p>line two</p>\n{% if %}x{% endif %}\n"}
    )
    with pytest.raises(TemplateError) as caught:
        composer(make_environment(folder))
    message = str(caught.value)
    assert str(folder / "email" / "release.html") in message
    assert "line 3" in message
    assert "Expected an expression" in message


def test_undefined_variable_names_template_line_and_cause(tmp_path: Path) -> None:
    folder = user_folder(
        tmp_path,
        {"email/release.html": "<p>{{ release.title }}</p>\n\n<p>{{ no_such_thing }}</p>\n"},
    )
    with pytest.raises(TemplateError) as caught:
        composer(make_environment(folder))
    message = str(caught.value)
    assert str(folder / "email" / "release.html") in message
    assert "line 3" in message
    assert "'no_such_thing' is undefined" in message


def test_error_in_an_included_user_partial_names_the_partial(tmp_path: Path) -> None:
    folder = user_folder(
        tmp_path,
        {"email/_footer.html": "Footer for {{ contact.email }}<br>\n{{ sender.fax_number }}\n"},
    )
    with pytest.raises(TemplateError) as caught:
        composer(make_environment(folder))
    message = str(caught.value)
    assert str(folder / "email" / "_footer.html") in message
    assert "line 2" in message
    assert "fax_number" in message


def sends_of(engine: Engine) -> int:
    with Session(engine) as session:
        return int(session.exec(select(func.count()).select_from(Send)).one())


def test_template_error_surfaces_at_schedule_time_and_stores_no_send(
    engine: Engine, tmp_path: Path
) -> None:
    folder = user_folder(
        tmp_path,
        {
            "email/release.txt": "{{ recipient.greeting }}\n"
            "{{ contact.custom.desk | nonexistent }}\n"
        },
    )
    settings_ = make_settings(
        engine.url.render_as_string(hide_password=False), templates={"folder": str(folder)}
    )
    add_contacts(engine, 2)
    stored = add_release(engine)
    assert stored.id is not None
    with pytest.raises(TemplateError) as caught:
        schedule_send(
            engine,
            settings_,
            release_id=stored.id,
            audience=Audience(["press"]),
            now=datetime.now(UTC),
        )
    message = str(caught.value)
    assert str(folder / "email" / "release.txt") in message
    assert "line 2" in message
    assert "nonexistent" in message
    assert sends_of(engine) == 0
    with Session(engine) as session:
        again = session.get(Release, stored.id)
        assert again is not None
        assert again.status == ReleaseStatus.APPROVED


# ---------------------------------------------------------------------- the sandbox


@pytest.mark.parametrize(
    "expression",
    [
        "release.__class__.__mro__",
        "''.__class__.__subclasses__()",
        "contact.__class__",
        "contact.first_name.__class__.__mro__",
        "sender.items.__self__",
        "cycler.__init__.__globals__",
    ],
)
def test_staff_templates_are_sandboxed(tmp_path: Path, expression: str) -> None:
    folder = user_folder(tmp_path, {"email/release.html": f"<p>\n{{{{ {expression} }}}}</p>\n"})
    with pytest.raises(TemplateError) as caught:
        composer(make_environment(folder))
    message = str(caught.value)
    assert "unsafe" in message or "not safely callable" in message
    assert "line 2" in message
    assert "<class" not in message
    assert "object at 0x" not in message


def test_raw_html_in_a_release_body_is_sanitised_not_trusted() -> None:
    from distro.rendering import markdown_to_html

    html = markdown_to_html(
        "Pasted from a word processor: <b>bold</b>, <i>italic</i> and "
        '<a href="https://example.org/report" onclick="steal()">the report</a>.\n\n'
        "<script>alert(1)</script>\n\n"
        '<iframe src="https://evil.example"></iframe>\n\n'
        '<img src="https://example.org/a.png" onerror="alert(1)" alt="A">\n\n'
        '<a href="javascript:alert(1)">click</a> <p style="color:red">styled</p>'
    )
    assert "<b>bold</b>" in html
    assert "<i>italic</i>" in html
    assert '<a href="https://example.org/report" rel="noopener noreferrer">the report</a>' in html
    assert '<img src="https://example.org/a.png" alt="A">' in html
    for forbidden in ("<script", "alert(1)</script", "<iframe", "onclick", "onerror", "style="):
        assert forbidden not in html
    assert 'href="javascript' not in html


def test_the_outlet_is_part_of_the_personalisation(tmp_path: Path) -> None:
    settings = make_settings(f"sqlite:///{tmp_path / 'x.db'}")
    release = Release(id=3, slug="outlet", title="Outlet check", body_md="Body.")
    composer = Composer(settings, make_environment(), LinkSigner("o" * 32), release, "release")
    with_outlet = composer.render(
        1, Contact(email="a@x.org", first_name="Ana", outlet="Harbor Herald")
    )
    without = composer.render(2, Contact(email="b@x.org"))
    assert "as a journalist at Harbor Herald: a@x.org" in with_outlet.text
    assert "as a journalist at Harbor Herald" in with_outlet.html
    assert "as a journalist: b@x.org" in without.text
    assert composer.prepared.fast
