"""The file that keeps distro's generated signing key, and the strength every signing key needs.

The signing key signs every link token (unsubscribe, view online, embargoed web copies, clicks,
opens); the sandbox's webhook password and the outgoing-webhook vault key are derived from it.
An empty or short key lets anyone forge those tokens, so a key shorter than ``MIN_KEY_BYTES``
stops distro wherever it comes from.

The key file is created atomically: the key is written and flushed to a private temporary file
(mode 0600) that is then hard-linked into place. A link never replaces an existing file, so when
several processes start at once the first one's key wins and every process reads that one; and no
process ever sees a partly written file (a crash between creating and writing the file used to
leave an empty one behind, and with it an empty key).
"""

from __future__ import annotations

import logging
import os
import secrets
import stat
import tempfile
from pathlib import Path

from distro.errors import ConfigError

log = logging.getLogger(__name__)

#: The shortest signing key accepted, in bytes (that of an HMAC-SHA256 key of full strength).
MIN_KEY_BYTES = 32
#: Key files already warned about in this process (the key is read by several components).
_warned: set[Path] = set()


def weak_key_reason(key: str) -> str | None:
    """Why ``key`` is too weak to sign links, or None when it is long enough."""
    size = len(key.encode())
    if size >= MIN_KEY_BYTES:
        return None
    return f"the key is {size} bytes long, at least {MIN_KEY_BYTES} are needed"


def key_from_file(path: Path) -> str:
    """The key kept in ``path``, generated into it first if the file does not exist."""
    try:
        return _read(path)
    except FileNotFoundError:
        _create(path)
    return _read(path)  # ours, or that of a process that linked its file first


def _read(path: Path) -> str:
    where = path.absolute()
    try:
        with path.open("rb") as handle:
            mode = stat.S_IMODE(os.fstat(handle.fileno()).st_mode)
            raw = handle.read()
    except FileNotFoundError:
        raise
    except OSError as exc:
        raise ConfigError(f"key file {where}: cannot be read: {exc.strerror}") from None
    try:
        key = raw.decode().strip()
    except UnicodeDecodeError:
        raise ConfigError(f"key file {where}: not UTF-8 text") from None
    if reason := weak_key_reason(key):
        raise ConfigError(
            f"key file {where}: {reason}; delete the file to have distro generate a new key "
            "(links already sent stop working), or set server.secret_key"
        )
    if mode & 0o077 and where not in _warned:
        _warned.add(where)
        log.warning(
            "key file %s can be read or changed by other users (mode %04o): whoever reads it "
            "can forge distro's links; restrict it with: chmod 600 %s",
            where,
            mode,
            where,
        )
    return key


def _create(path: Path) -> None:
    directory = path.absolute().parent
    try:
        descriptor, temporary = tempfile.mkstemp(prefix=f"{path.name}.", dir=directory)
    except OSError as exc:
        raise _cannot_create(path, exc) from None
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(MIN_KEY_BYTES) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return  # another process was first: its key is the one
        _sync_directory(directory)
    except OSError as exc:
        raise _cannot_create(path, exc) from None
    finally:
        Path(temporary).unlink(missing_ok=True)


def _sync_directory(directory: Path) -> None:
    """Make the new directory entry durable, so a crash cannot lose a key already in use."""
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _cannot_create(path: Path, exc: OSError) -> ConfigError:
    return ConfigError(
        f"key file {path.absolute()}: cannot be created: {exc.strerror}; "
        "set server.secret_key (or DISTRO_SERVER__SECRET_KEY) instead"
    )
