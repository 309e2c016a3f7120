"""Where the running server is: the one place that decides the public base URL and the sandbox's
address for commands other than ``distro serve``.

``distro serve`` may listen on any host and port (``--host``, ``--port``). While it runs it keeps a
small runtime record (host, port, pid) next to the database (``distro.db`` -> ``distro.db.server``;
for a database that is not a SQLite file, ``.distro-server`` in the working directory) and
removes it on exit. Every other command (``send test``, ``release preview``, ``worker``,
``sandbox`` ...) reads the record, so links and the built-in sandbox's address follow the server
without environment variables. A record whose process is gone (a killed server) is ignored.

What the configuration says explicitly still wins where it should: ``server.public_url`` stays
the base of every public link (a server behind a proxy), and a sandbox provider with its own
``base_url`` keeps it. The record only replaces ``server.host`` and ``server.port``, which are
facts about a running server rather than preferences.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from distro.config import Settings
from distro.db import sqlite_file

log = logging.getLogger(__name__)

RECORD_SUFFIX = ".server"
FALLBACK_RECORD = ".distro-server"
# Addresses a server listens on that no client can connect to: they mean "every interface".
_ANY_ADDRESS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}  # noqa: S104


@dataclass(frozen=True, slots=True)
class ServerRecord:
    """A running ``distro serve``: where a client reaches it, and its process id."""

    host: str
    port: int
    pid: int

    @property
    def local_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


def record_path(settings: Settings) -> Path:
    """Where the server started with ``settings`` keeps its record (beside its database)."""
    database = sqlite_file(settings.database.url)
    if database is None:
        return Path(FALLBACK_RECORD).absolute()
    return database.with_name(database.name + RECORD_SUFFIX).absolute()


def reachable_host(listen_host: str) -> str:
    """The address a client on this machine connects to for a server listening on ``host``."""
    return _ANY_ADDRESS.get(listen_host, listen_host)


def write_record(settings: Settings, listen_host: str, port: int) -> Path:
    """Record that this process serves on ``listen_host:port``; return the record's path."""
    path = record_path(settings)
    record = ServerRecord(reachable_host(listen_host), port, os.getpid())
    temporary = path.with_name(path.name + f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(asdict(record)) + "\n", encoding="utf-8")
    temporary.replace(path)  # atomic: a reader sees the old record or the new, never half
    return path


def remove_record(path: Path) -> None:
    """Remove the record if it is still this process's (a newer server may have replaced it)."""
    record = _read(path)
    if record is not None and record.pid == os.getpid():
        path.unlink(missing_ok=True)


def running_server(settings: Settings) -> ServerRecord | None:
    """The server recorded for ``settings``' database, if its process is alive."""
    record = _read(record_path(settings))
    if record is None or not _alive(record.pid):
        return None
    return record


def resolve(settings: Settings) -> Settings:
    """``settings`` with ``server.host``/``server.port`` of the running server, if one runs."""
    record = running_server(settings)
    if record is None:
        return settings
    server = settings.server.model_copy(update={"host": record.host, "port": record.port})
    return settings.model_copy(update={"server": server})


def _read(path: Path) -> ServerRecord | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return ServerRecord(str(data["host"]), int(data["port"]), int(data["pid"]))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # A damaged record must not stop a command: it falls back to the configuration.
        log.warning("%s: ignoring an unreadable server record (%s)", path, exc)
        return None


def _alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True
