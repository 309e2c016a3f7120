"""Loading the samples (`distro demo`, `serve --with-samples`) goes through services that own
their transactions, loads into an empty database only, and says what it loaded."""

from __future__ import annotations

from sqlalchemy import Engine

from distro.audience.contacts import has_contacts
from distro.demo import SAMPLE_LIST, load_samples
from distro.releases.service import add_sample_release, list_releases
from distro.releases.views import ReleaseView
from tests.factories import add_contacts


def test_samples_go_into_an_empty_database_once(engine: Engine) -> None:
    assert not has_contacts(engine)
    imported, release = load_samples(engine)
    assert imported is not None
    assert imported.imported > 0
    assert isinstance(release, ReleaseView)
    assert release.status == "approved"  # ready to send, as an approver would leave it
    assert has_contacts(engine)
    assert load_samples(engine) == (None, None)
    assert list_releases(engine) == [release]


def test_a_database_in_use_gets_no_sample_release(engine: Engine) -> None:
    add_contacts(engine, 1, SAMPLE_LIST)
    assert has_contacts(engine)
    first = add_sample_release(engine)
    assert first is not None
    assert add_sample_release(engine) is None
    assert [r.id for r in list_releases(engine)] == [first.id]
