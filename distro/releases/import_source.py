"""Reading a release file for ``release import``: the one place its bytes are checked.

A pasted release is text of a few kilobytes; anything that is not (no text at all, a binary
file, bytes that are not UTF-8, a file far larger than any release) is refused with one line
naming the file, the byte offset where there is one, and the reason, before any parsing.
"""

from __future__ import annotations

from pathlib import Path

from distro.errors import ValidationError

# The longest real release seen is under 100 KB; 8 MiB leaves room for pasted page debris
# while bounding the work (the importer is linear: 5 MB reads in a few seconds).
MAX_RELEASE_FILE_BYTES = 8 * 1024 * 1024


def read_release_file(path: Path) -> str:
    """The text of ``path``, or a ValidationError saying why it cannot be a release."""
    try:
        with path.open("rb") as handle:
            data = handle.read(MAX_RELEASE_FILE_BYTES + 1)
    except OSError as exc:
        raise ValidationError(f"{path}: cannot be read ({exc.strerror or exc})") from None
    return release_text(data, str(path))


def release_text(data: bytes, source: str) -> str:
    """``data`` decoded as a release's text; ``source`` names it in the errors."""
    if len(data) > MAX_RELEASE_FILE_BYTES:
        raise ValidationError(
            f"{source}: larger than {MAX_RELEASE_FILE_BYTES // (1024 * 1024)} MiB, "
            "too large for a press release"
        )
    nul = data.find(b"\x00")
    if nul >= 0:
        raise ValidationError(
            f"{source}: byte {nul}: a NUL byte; this is a binary file, not text "
            "(save the release as plain text or Markdown)"
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{source}: byte {exc.start}: not UTF-8 text ({exc.reason}); save the file as UTF-8"
        ) from None
    if not text.strip():
        raise ValidationError(f"{source}: nothing to import: the file is empty")
    return text.removeprefix("\ufeff")
