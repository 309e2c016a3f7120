"""``composer_for``: the one place a composer is wired from settings (the sender, scheduling's
check render, test copies and previews all go through it)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from distro.config import secret_key
from distro.models import Release, ReleaseStatus
from distro.rendering import make_environment
from distro.sending.compose import SAMPLE_CONTACT, composer_for
from distro.tracking.links import LinkPurpose, LinkSigner
from tests.conftest import make_settings

SETTINGS = make_settings("sqlite://")


def release(*, embargoed: bool = True) -> Release:
    return Release(
        id=7,
        slug="harbor-archive",
        title="Harbor City Library opens its newspaper archive",
        release_date=date(2029, 12, 30),
        body_md="Two million pages, [free to search](https://harbor.example/archive).",
        embargo_at=datetime(2030, 1, 6, 17, 0, tzinfo=UTC) if embargoed else None,
        embargo_tz="America/Los_Angeles",
        status=ReleaseStatus.APPROVED,
    )


@pytest.mark.parametrize(
    ("switch", "enabled", "tracked"),
    [(True, True, True), (True, False, False), (False, True, False), (False, False, False)],
)
def test_links_are_tracked_only_when_the_send_and_the_settings_both_say_so(
    switch: bool, enabled: bool, tracked: bool
) -> None:
    settings = make_settings("sqlite://", tracking={"enabled": enabled})
    composer = composer_for(settings, release(), tracking=switch, send_id=5)
    assert composer.tracked is tracked
    assert (composer.prepared.links is not None) is tracked
    html = composer.render(11, SAMPLE_CONTACT).html
    assert ("/o/" in html) is tracked  # the open pixel


def test_a_tracked_composer_signs_tokens_for_its_send() -> None:
    composer = composer_for(SETTINGS, release(), tracking=True, send_id=5)
    signer = LinkSigner(secret_key(SETTINGS))
    html = composer.render(11, SAMPLE_CONTACT).html
    assert signer.sign(LinkPurpose.OPEN, 11) in html
    assert signer.sign_link(5, "https://harbor.example/archive") in html
    assert signer.sign_link(6, "https://harbor.example/archive") not in html


def test_the_embargo_notice_is_for_advance_copies_only() -> None:
    assert composer_for(SETTINGS, release(), advance_copy=True).notice
    assert not composer_for(SETTINGS, release()).notice
    assert not composer_for(SETTINGS, release(embargoed=False), advance_copy=True).notice


def test_links_are_signed_with_the_configured_secret() -> None:
    links = composer_for(SETTINGS, release()).links(11)
    token = links["unsubscribe"].rsplit("/", 1)[1]
    assert token == LinkSigner(secret_key(SETTINGS)).sign(LinkPurpose.UNSUBSCRIBE, 11)


def test_the_staff_template_folder_and_the_template_name_are_used(tmp_path: Path) -> None:
    folder = tmp_path / "user-templates" / "email"
    folder.mkdir(parents=True)
    (folder / "note.subject.txt").write_text("Note: {{ release.title }}", encoding="utf-8")
    (folder / "note.txt").write_text("{{ recipient.greeting }}", encoding="utf-8")
    (folder / "note.html").write_text("<p>{{ recipient.greeting }}</p>", encoding="utf-8")
    settings = make_settings("sqlite://", templates={"folder": str(folder.parent)})
    rendered = composer_for(settings, release(), template="note").render(1, SAMPLE_CONTACT)
    assert rendered.subject == "Note: Harbor City Library opens its newspaper archive"
    assert rendered.text == "Dear Sample,"


def test_a_given_environment_and_signer_are_used_as_they_are() -> None:
    environment = make_environment()
    signer = LinkSigner("s" * 32)
    composer = composer_for(SETTINGS, release(), environment=environment, signer=signer)
    assert composer.signer is signer
    assert composer.prepared.templates["html"].environment is environment
