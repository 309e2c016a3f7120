"""Settings: built-in defaults, overlaid by a TOML file, overlaid by DISTRO_* variables.

The file is the first of: ``--config PATH``, ``$DISTRO_CONFIG``, ``./config.toml``; with none of
them distro runs on the embedded defaults (a SQLite file in the working directory and the
built-in sandbox provider). A single key is overridden from the environment with its dotted path
in upper case, sections joined by a double underscore: ``DISTRO_DATABASE__URL``,
``DISTRO_PROVIDERS__POSTMARK__SERVER_TOKEN``. That keeps secrets out of the file.

Nothing here runs at import time; ``load_settings`` does all the reading. What each section may
hold is in ``distro.config_sections``, the provider tables in ``distro.config_providers``.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pydantic
from pydantic import Field, model_validator
from pydantic_core import PydanticCustomError

from distro.config_errors import describe_errors
from distro.config_providers import PROVIDER_TYPES, ProviderSettings
from distro.config_sections import (
    DatabaseSettings,
    EmbargoSettings,
    LimitsSettings,
    OutgoingWebhookSettings,
    SchedulerSettings,
    Section,
    SendingSettings,
    ServerSettings,
    SuppressionSettings,
    TemplateSettings,
    TrackingSettings,
)
from distro.errors import ConfigError
from distro.keyfile import key_from_file

ENV_PREFIX = "DISTRO_"
ENV_SEPARATOR = "__"
DEFAULT_CONFIG_FILE = "config.toml"
SECRET_FILE = ".distro-secret"  # noqa: S105 (a file name, not a secret)


class Settings(Section):
    database: DatabaseSettings = DatabaseSettings()
    server: ServerSettings = ServerSettings()
    sending: SendingSettings = SendingSettings()
    scheduler: SchedulerSettings = SchedulerSettings()
    templates: TemplateSettings = TemplateSettings()
    embargo: EmbargoSettings = EmbargoSettings()
    tracking: TrackingSettings = TrackingSettings()
    outgoing_webhooks: OutgoingWebhookSettings = OutgoingWebhookSettings()
    suppression: SuppressionSettings = SuppressionSettings()
    limits: LimitsSettings = LimitsSettings()
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    # Where the settings came from, for messages; not a config key.
    source: str = Field(default="built-in defaults", exclude=True)

    @model_validator(mode="after")
    def _default_provider_exists(self) -> Settings:
        if self.sending.provider not in self.providers:
            known = ", ".join(sorted(self.providers)) or "none"
            # The check spans two sections, so its error has no location: ctx["key"] names it.
            raise PydanticCustomError(
                "unknown_provider",
                "{provider} is not a [providers.NAME] table (configured: {known})",
                {
                    "provider": repr(self.sending.provider),
                    "known": known,
                    "key": "sending.provider",
                },
            )
        return self

    def provider(self, name: str | None = None) -> ProviderSettings:
        """The provider called ``name``, or the default one."""
        key = name or self.sending.provider
        try:
            return self.providers[key]
        except KeyError:
            known = ", ".join(sorted(self.providers))
            raise ConfigError(f"unknown provider {key!r} (configured: {known})") from None


BUILT_IN: dict[str, Any] = {"providers": {"sandbox": {"type": "sandbox"}}}


def config_path(
    explicit: str | os.PathLike[str] | None = None, environ: Mapping[str, str] | None = None
) -> Path | None:
    """The config file to read, following the documented lookup order; None means defaults."""
    if explicit:
        return _existing(Path(explicit), "--config")
    environ = os.environ if environ is None else environ
    if env_path := environ.get(f"{ENV_PREFIX}CONFIG"):
        return _existing(Path(env_path), "DISTRO_CONFIG")
    local = Path(DEFAULT_CONFIG_FILE)
    return local if local.is_file() else None


def _existing(path: Path, named_by: str) -> Path:
    if not path.is_file():
        raise ConfigError(f"config file {path} (named by {named_by}) does not exist")
    return path


def load_settings(
    explicit: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
) -> Settings:
    """Read, merge and validate the settings; raise ConfigError naming the bad key."""
    environ = os.environ if environ is None else environ
    path = config_path(explicit, environ)
    data = _deep_merge({}, BUILT_IN)
    if path is not None:
        data = _deep_merge(data, _read_toml(path))
    env_keys = _apply_env(data, environ)
    source = str(path) if path else "built-in defaults"
    try:
        return Settings.model_validate({**data, "source": source})
    except pydantic.ValidationError as exc:
        raise ConfigError(describe_errors(exc, source, env_keys, PROVIDER_TYPES)) from None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read: {exc.strerror}") from None


def _deep_merge(base: dict[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: ``top`` over ``base``, sections merged and copied (never shared with either)."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping):
            current = merged.get(key)
            merged[key] = _deep_merge(current if isinstance(current, dict) else {}, value)
        else:
            merged[key] = value
    return merged


def _apply_env(data: dict[str, Any], environ: Mapping[str, str]) -> dict[str, str]:
    """Overlay DISTRO_A__B=value as data[a][b]; return {dotted key: variable name}."""
    applied: dict[str, str] = {}
    for name, value in environ.items():
        if not name.startswith(ENV_PREFIX) or ENV_SEPARATOR not in name:
            continue
        path = name[len(ENV_PREFIX) :].lower().split(ENV_SEPARATOR)
        if not all(path):
            raise ConfigError(f"environment variable {name}: empty key part")
        node = data
        for part in path[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise ConfigError(f"environment variable {name}: {part} is not a section")
            node = child
        node[path[-1]] = value
        applied[".".join(path)] = name
    return applied


def secret_key(settings: Settings) -> str:
    """The signing key: from config/env, else one generated once into ``SECRET_FILE``.

    A generated key suits a single-host set-up; several hosts must share a configured key. A
    configured key's strength was checked when the settings were validated; the file's is
    checked as it is read (see ``distro.keyfile``).
    """
    configured = settings.server.secret_key.get_secret_value()
    return configured or key_from_file(Path(SECRET_FILE))
