"""`release import` of hostile files: one-line errors for what is not a release, and linear
reading of what is (a single line of megabytes used to take minutes)."""

from __future__ import annotations

from pathlib import Path

import pytest

from distro.errors import ValidationError
from distro.releases.import_contacts import read_details
from distro.releases.import_source import MAX_RELEASE_FILE_BYTES, read_release_file
from distro.releases.importer import parse_release
from tests.cli_support import run


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"", "nothing to import: the file is empty"),
        (b" \n\t\n", "nothing to import: the file is empty"),
        (b"Headline\x00here", "byte 8: a NUL byte"),
        (b"Caf\xc3\xa9 opens \xff today", "byte 12: not UTF-8 text"),
        (b"x" * (MAX_RELEASE_FILE_BYTES + 1), "larger than 8 MiB"),
    ],
)
def test_files_that_are_not_a_release_are_refused_in_one_line(
    tmp_path: Path, content: bytes, expected: str
) -> None:
    path = tmp_path / "release.txt"
    path.write_bytes(content)
    with pytest.raises(ValidationError, match=expected):
        read_release_file(path)
    assert run(tmp_path, "init").returncode == 0
    done = run(tmp_path, "release", "import", "release.txt")
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith("error: release.txt: ")
    assert expected in done.stderr


def test_a_byte_order_mark_is_not_part_of_the_headline(tmp_path: Path) -> None:
    path = tmp_path / "release.txt"
    path.write_bytes("\ufeffBig News Today For Everyone\n\nText.".encode())
    assert read_release_file(path).startswith("Big News")


def test_a_long_single_line_of_contacts_is_read_whole() -> None:
    unit = "Jane Doe | (214) 402-0186 | jane@x.org | j***@x.org | fax 555 123 4567 ; "
    line = unit * 3000  # 220,000 characters: minutes before, a fraction of a second now
    details = read_details(line)
    assert len(details.emails) == 3000
    assert len(details.phones) == 3000  # the fax numbers are not kept
    assert len(details.hidden) == 3000


@pytest.mark.parametrize("unit", ["a.", "1-", "x@y.org,", "_a", "a**@b", "1 ", "a "])
def test_hostile_single_lines_give_a_draft(unit: str) -> None:
    text = "Headline Of The Release\n\n" + unit * (200_000 // len(unit))
    draft = parse_release(text)
    assert draft.title == "Headline Of The Release"
