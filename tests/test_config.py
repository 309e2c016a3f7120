"""The configuration contract: where settings come from, what the defaults are, how the
environment overrides single keys, and how a wrong key, type or value is reported."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from distro.config import DEFAULT_CONFIG_FILE, config_path, load_settings
from distro.config_providers import PostmarkProvider, SandboxProvider
from distro.config_sections import SendingSettings, ServerSettings
from distro.db import sqlite_file
from distro.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_CONFIG = REPO_ROOT / "config.example.toml"


def write_config(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def batch_size_file(path: Path, size: int) -> Path:
    return write_config(path, f"[sending]\nbatch_size = {size}\n")


def config_error(path: Path | None, environ: dict[str, str] | None = None) -> str:
    """The message load_settings raises for ``path`` (fails the test if it loads)."""
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=environ or {})
    message = str(caught.value)
    assert "\n" not in message, "config errors must be one line"
    return message


# --- lookup order ---------------------------------------------------------------------------


@pytest.fixture
def three_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path, Path]:
    """An explicit file, a $DISTRO_CONFIG file and ./config.toml, each with its own batch size."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DISTRO_CONFIG", raising=False)
    explicit = batch_size_file(tmp_path / "explicit.toml", 11)
    from_env = batch_size_file(tmp_path / "from-env.toml", 22)
    local = batch_size_file(tmp_path / DEFAULT_CONFIG_FILE, 33)
    return explicit, from_env, local


def test_explicit_config_beats_env_and_local_file(three_files: tuple[Path, Path, Path]) -> None:
    explicit, from_env, _local = three_files
    settings = load_settings(explicit, environ={"DISTRO_CONFIG": str(from_env)})
    assert settings.sending.batch_size == 11
    assert settings.source == str(explicit)


def test_distro_config_env_beats_local_file(three_files: tuple[Path, Path, Path]) -> None:
    _explicit, from_env, _local = three_files
    settings = load_settings(None, environ={"DISTRO_CONFIG": str(from_env)})
    assert settings.sending.batch_size == 22
    assert settings.source == str(from_env)


def test_local_config_toml_beats_defaults(three_files: tuple[Path, Path, Path]) -> None:
    settings = load_settings(None, environ={})
    assert settings.sending.batch_size == 33
    assert settings.source == DEFAULT_CONFIG_FILE


def test_no_file_means_built_in_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, environ={})
    assert settings.source == "built-in defaults"
    assert settings.sending.batch_size == SendingSettings().batch_size


def test_config_path_follows_lookup_order(
    three_files: tuple[Path, Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit, from_env, local = three_files
    monkeypatch.setenv("DISTRO_CONFIG", str(from_env))
    assert config_path(explicit) == explicit
    assert config_path(None) == from_env
    monkeypatch.delenv("DISTRO_CONFIG")
    found = config_path(None)
    assert found == Path(DEFAULT_CONFIG_FILE)
    assert found.resolve() == local.resolve()
    local.unlink()
    assert config_path(None) is None


def test_config_path_reads_the_given_environ(three_files: tuple[Path, Path, Path]) -> None:
    _explicit, from_env, _local = three_files
    assert config_path(None, {"DISTRO_CONFIG": str(from_env)}) == from_env
    assert config_path(None, {}) == Path(DEFAULT_CONFIG_FILE)


def test_missing_explicit_file_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    batch_size_file(tmp_path / DEFAULT_CONFIG_FILE, 33)  # present, but must not be used instead
    message = config_error(tmp_path / "missing.toml")
    assert str(tmp_path / "missing.toml") in message
    assert "--config" in message
    assert "does not exist" in message


def test_missing_distro_config_file_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    batch_size_file(tmp_path / DEFAULT_CONFIG_FILE, 33)
    message = config_error(None, {"DISTRO_CONFIG": "elsewhere/absent.toml"})
    assert "elsewhere/absent.toml" in message
    assert "DISTRO_CONFIG" in message


# --- defaults -------------------------------------------------------------------------------


def test_defaults_are_sqlite_in_the_working_directory_and_the_sandbox(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(None, environ={})
    database = sqlite_file(settings.database.url)
    assert database is not None, f"default database is not a SQLite file: {settings.database.url}"
    assert database.name == "distro.db"
    assert database.resolve() == (tmp_path / "distro.db").resolve()
    assert settings.sending.provider == "sandbox"
    assert isinstance(settings.provider(), SandboxProvider)


# --- environment overrides ------------------------------------------------------------------


def test_env_overrides_a_single_key_and_coerces_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_config(
        tmp_path / "c.toml", '[sending]\nbatch_size = 7\nfrom_name = "File Newsroom"\n'
    )
    settings = load_settings(path, environ={"DISTRO_SENDING__BATCH_SIZE": "100"})
    assert settings.sending.batch_size == 100
    assert type(settings.sending.batch_size) is int
    assert settings.sending.from_name == "File Newsroom"  # the rest of the section stays


def test_env_overrides_a_nested_provider_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_config(
        tmp_path / "c.toml",
        '[sending]\nprovider = "pm"\n\n'
        '[providers.pm]\ntype = "postmark"\nserver_token = "from-file"\n'
        'message_stream = "news"\n',
    )
    settings = load_settings(path, environ={"DISTRO_PROVIDERS__PM__SERVER_TOKEN": "from-env"})
    provider = settings.provider()
    assert isinstance(provider, PostmarkProvider)
    assert provider.server_token.get_secret_value() == "from-env"
    assert provider.message_stream == "news"


def test_env_supplies_a_secret_the_file_leaves_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path / "c.toml", '[providers.pm]\ntype = "postmark"\n')
    config_error(path)  # without the token the table is incomplete
    settings = load_settings(path, environ={"DISTRO_PROVIDERS__PM__SERVER_TOKEN": "tok-123"})
    provider = settings.provider("pm")
    assert isinstance(provider, PostmarkProvider)
    assert provider.server_token.get_secret_value() == "tok-123"


def test_env_overrides_do_not_leak_into_later_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with_env = load_settings(
        None,
        environ={
            "DISTRO_PROVIDERS__PM__TYPE": "postmark",
            "DISTRO_PROVIDERS__PM__SERVER_TOKEN": "tok",
            "DISTRO_SENDING__PROVIDER": "pm",
        },
    )
    assert isinstance(with_env.provider(), PostmarkProvider)
    plain = load_settings(None, environ={})
    assert "pm" not in plain.providers
    assert plain.sending.provider == "sandbox"


def test_environ_defaults_to_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DISTRO_SERVER__PORT", "8123")
    assert load_settings().server.port == 8123


# --- errors name the key and what was expected ----------------------------------------------

BAD_FILES = [
    pytest.param(
        "[sending]\nbatchsize = 3\n", "sending.batchsize", "unknown key", id="unknown-key"
    ),
    pytest.param("nonsense = 1\n", "nonsense", "unknown key", id="unknown-top-level-key"),
    pytest.param(
        '[sending]\nbatch_size = "lots"\n', "sending.batch_size", "valid integer", id="wrong-type"
    ),
    pytest.param("[server]\nport = 70000\n", "server.port", "65535", id="out-of-range"),
    pytest.param(
        '[providers.carrier]\ntype = "pigeon"\n',
        "providers.carrier.type",
        "postmark",
        id="unknown-provider-type",
    ),
    pytest.param(
        '[providers.carrier]\nserver_token = "x"\n',
        "providers.carrier.type",
        "postmark",
        id="provider-without-type",
    ),
    pytest.param(
        '[providers.pm]\ntype = "postmark"\n',
        "providers.pm.server_token",
        "missing",
        id="postmark-without-token",
    ),
    pytest.param(
        '[sending]\nprovider = "nope"\n',
        "sending.provider",
        "'nope'",
        id="unconfigured-default-provider",
    ),
]


@pytest.mark.parametrize(("text", "key", "expected"), BAD_FILES)
def test_bad_value_names_the_dotted_key_and_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str, key: str, expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path / "bad.toml", text)
    message = config_error(path)
    assert re.search(rf"(^|[ ;]){re.escape(key)}: ", message), message
    assert expected in message
    assert str(path) in message


def test_unconfigured_default_provider_lists_the_configured_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_config(
        tmp_path / "c.toml",
        '[sending]\nprovider = "nope"\n\n[providers.pm]\ntype = "postmark"\nserver_token = "t"\n',
    )
    message = config_error(path)
    assert "sending.provider" in message
    assert "pm" in message
    assert "sandbox" in message


def test_bad_toml_names_the_file_and_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path / "broken.toml", "[sending]\nbatch_size = 3\nfrom_name = = 1\n")
    message = config_error(path)
    assert str(path) in message
    assert "line 3" in message


def test_bad_env_value_names_the_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = batch_size_file(tmp_path / "c.toml", 5)
    message = config_error(path, {"DISTRO_SENDING__BATCH_SIZE": "abc"})
    assert "sending.batch_size" in message
    assert "DISTRO_SENDING__BATCH_SIZE" in message
    assert "'abc'" in message


def test_env_naming_an_unknown_provider_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    message = config_error(None, {"DISTRO_SENDING__PROVIDER": "nope"})
    assert "sending.provider" in message
    assert "DISTRO_SENDING__PROVIDER" in message


def test_env_unknown_key_names_the_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    message = config_error(None, {"DISTRO_SERVER__PROT": "80"})
    assert "server.prot: unknown key" in message
    assert "DISTRO_SERVER__PROT" in message


def test_every_problem_is_reported_at_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    path = write_config(tmp_path / "c.toml", "[server]\nport = 0\n\n[sending]\nconcurrency = 0\n")
    message = config_error(path)
    assert "server.port" in message
    assert "sending.concurrency" in message
    assert ServerSettings().port != 0  # the default itself is valid


# --- the example file -----------------------------------------------------------------------

KEY_LINE = re.compile(r"""^\s*("[^"]*"|'[^']*'|[A-Za-z0-9_\-.]+)\s*=""")


def _has_trailing_comment(line: str) -> bool:
    """A ``#`` after the value, outside any quoted string."""
    _key, _, value = line.partition("=")
    without_strings = re.sub(r'"(\\.|[^"\\])*"|\'[^\']*\'', '""', value)
    return "#" in without_strings


def test_example_config_loads_and_every_key_is_commented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not EXAMPLE_CONFIG.is_file():
        pytest.skip(f"{EXAMPLE_CONFIG.name} is not written yet (expected at {EXAMPLE_CONFIG})")
    monkeypatch.chdir(tmp_path)
    settings = load_settings(EXAMPLE_CONFIG, environ={})
    assert settings.source == str(EXAMPLE_CONFIG)

    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    tomllib.loads(text)
    lines = text.splitlines()
    keys = 0
    uncommented: list[str] = []
    for number, line in enumerate(lines, start=1):
        if line.lstrip().startswith("#") or not KEY_LINE.match(line):
            continue
        keys += 1
        above = lines[number - 2].strip() if number >= 2 else ""
        if not above.startswith("#") and not _has_trailing_comment(line):
            uncommented.append(f"line {number}: {line.strip()}")
    assert keys > 0, "the example sets no keys at all"
    assert not uncommented, "keys without a comment above or beside them:\n" + "\n".join(
        uncommented
    )
