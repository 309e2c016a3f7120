"""The signing key: never empty or short (from the key file, the config file or the environment),
its file created atomically and privately, and one key agreed on by processes starting at once."""

from __future__ import annotations

import logging
import multiprocessing
import stat
import subprocess
from pathlib import Path

import pytest

from distro.config import SECRET_FILE, Settings, load_settings, secret_key
from distro.errors import ConfigError
from distro.keyfile import MIN_KEY_BYTES, key_from_file
from tests.cli_support import DISTRO, clean_env, free_port, run

STRONG = "k" * MIN_KEY_BYTES


def key_error(path: Path) -> str:
    with pytest.raises(ConfigError) as caught:
        key_from_file(path)
    message = str(caught.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize("content", ["", "\n", "short-key\n", "x" * (MIN_KEY_BYTES - 1)])
def test_an_empty_or_short_key_file_is_refused_naming_the_file(
    tmp_path: Path, content: str
) -> None:
    """A crash between creating and writing the file used to leave it empty: an empty key."""
    path = tmp_path / SECRET_FILE
    path.write_text(content)
    path.chmod(0o600)
    message = key_error(path)
    assert f"key file {path}" in message
    assert f"at least {MIN_KEY_BYTES}" in message
    assert path.read_text() == content, "the file is left for the operator to look at"


def test_secret_key_refuses_the_empty_file_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / SECRET_FILE).touch(mode=0o600)
    with pytest.raises(ConfigError, match=r"key file .*\.distro-secret: the key is 0 bytes long"):
        secret_key(Settings.model_validate({"providers": {"sandbox": {"type": "sandbox"}}}))


def test_distro_serve_with_an_empty_key_file_stops_with_one_line(tmp_path: Path) -> None:
    """The probe's reproduction: `: > .distro-secret; distro serve` used to serve links signed
    with an empty key, which anyone can forge."""
    assert run(tmp_path, "init").returncode == 0
    (tmp_path / SECRET_FILE).write_text("")
    port = str(free_port())
    try:
        done = subprocess.run(
            [DISTRO, "serve", "--port", port],
            cwd=tmp_path,
            env=clean_env(),
            capture_output=True,
            text=True,
            timeout=60,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("distro serve started with an empty signing key")
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"error: key file {tmp_path / SECRET_FILE}: the key is 0 bytes")


def config_error(path: Path | None, environ: dict[str, str]) -> str:
    with pytest.raises(ConfigError) as caught:
        load_settings(path, environ=environ)
    message = str(caught.value)
    assert "\n" not in message
    return message


def test_a_short_configured_key_names_the_config_file_and_is_not_shown(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[server]\nsecret_key = "hunter2-hunter2"\n')
    message = config_error(path, {})
    assert "server.secret_key: the key is 15 bytes long" in message
    assert f"(in {path})" in message
    assert "hunter2" not in message


def test_a_short_key_from_the_environment_names_the_variable(tmp_path: Path) -> None:
    message = config_error(None, {"DISTRO_SERVER__SECRET_KEY": "tiny"})
    assert "server.secret_key: the key is 4 bytes long" in message
    assert "(in DISTRO_SERVER__SECRET_KEY)" in message
    assert "tiny" not in message


def test_a_secret_of_the_wrong_type_is_not_shown_either(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text('[providers.pm]\ntype = "postmark"\nserver_token = 123456789\n')
    message = config_error(path, {})
    assert "providers.pm.server_token" in message
    assert "123456789" not in message


def test_a_strong_configured_key_is_used_as_it_is(tmp_path: Path) -> None:
    settings = load_settings(None, environ={"DISTRO_SERVER__SECRET_KEY": STRONG})
    assert secret_key(settings) == STRONG


def test_the_generated_key_file_is_private_strong_and_kept(tmp_path: Path) -> None:
    path = tmp_path / SECRET_FILE
    key = key_from_file(path)
    assert len(key.encode()) >= MIN_KEY_BYTES
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_text() == key + "\n"
    assert key_from_file(path) == key
    assert sorted(p.name for p in tmp_path.iterdir()) == [SECRET_FILE], "no temporary file left"


@pytest.mark.parametrize(("mode", "warned"), [(0o644, True), (0o660, True), (0o600, False)])
def test_a_key_file_others_can_read_is_warned_about_by_name(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, mode: int, warned: bool
) -> None:
    path = tmp_path / SECRET_FILE
    path.write_text(STRONG + "\n")
    path.chmod(mode)
    with caplog.at_level(logging.WARNING, logger="distro.keyfile"):
        assert key_from_file(path) == STRONG
    messages = [record.getMessage() for record in caplog.records]
    assert len(messages) == warned
    for message in messages:
        assert str(path) in message
        assert f"{mode:04o}" in message
        assert STRONG not in message


def test_a_key_file_that_cannot_be_created_is_a_config_error(tmp_path: Path) -> None:
    message = key_error(tmp_path / "no-such-folder" / SECRET_FILE)
    assert "cannot be created: No such file or directory" in message
    assert "server.secret_key" in message


def _first_start(
    path: str, barrier: multiprocessing.synchronize.Barrier, out: multiprocessing.Queue[str]
) -> None:
    barrier.wait()
    out.put(key_from_file(Path(path)))


def test_processes_starting_at_once_agree_on_one_key(tmp_path: Path) -> None:
    """Worker processes started together must all sign with the key that ends up in the file."""
    context = multiprocessing.get_context("fork")
    starters = 6
    for attempt in range(10):
        path = tmp_path / f"run{attempt}" / SECRET_FILE
        path.parent.mkdir()
        barrier = context.Barrier(starters)
        keys: multiprocessing.Queue[str] = context.Queue()
        processes = [
            context.Process(target=_first_start, args=(str(path), barrier, keys))
            for _ in range(starters)
        ]
        for process in processes:
            process.start()
        seen = {keys.get(timeout=30) for _ in processes}
        for process in processes:
            process.join(30)
            assert process.exitcode == 0
        assert seen == {path.read_text().strip()}
        assert [p.name for p in path.parent.iterdir()] == [SECRET_FILE]
