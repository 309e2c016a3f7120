"""What every command shares: the --config choice, and settings and database opened lazily."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import typer
from sqlalchemy import Engine

from distro.config import Settings, load_settings
from distro.db import open_database
from distro.endpoints import resolve


@dataclass
class CliState:
    config_path: Path | None = None
    _configured: Settings | None = field(default=None, repr=False)
    _settings: Settings | None = field(default=None, repr=False)
    _engine: Engine | None = field(default=None, repr=False)

    @property
    def configured_settings(self) -> Settings:
        """The settings as configured (what `distro serve` starts from)."""
        if self._configured is None:
            self._configured = load_settings(self.config_path)
        return self._configured

    @property
    def settings(self) -> Settings:
        """The configured settings, pointed at the running `distro serve` if one runs (see
        distro.endpoints), so links and the sandbox follow its host and port."""
        if self._settings is None:
            self._settings = resolve(self.configured_settings)
        return self._settings

    @property
    def engine(self) -> Engine:
        """The configured database, which must exist and be migrated."""
        if self._engine is None:
            self._engine = open_database(self.settings.database.url)
        return self._engine

    def close(self) -> None:
        """Close the database's connections once the command is done. A process about to exit
        needs no such care, but a command run again in the same process (the tests run most
        commands in theirs) must not leave connections open behind it."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None


def state(ctx: typer.Context) -> CliState:
    root = ctx.find_root()
    if not isinstance(root.obj, CliState):
        root.obj = CliState()
    return root.obj
