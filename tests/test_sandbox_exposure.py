"""The sandbox (its inbox, message API and signing keys, all without credentials) is served beyond
loopback only when --expose-sandbox asks for it: refused by `distro serve` and `distro sandbox`,
and left out of the app itself."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import Engine
from starlette.routing import Mount

from distro.assemble import build_app
from distro.config import Settings
from distro.errors import ConfigError
from distro.sandbox import SandboxOptions, create_sandbox_app
from distro.web.server import ServerThread, bind_socket, is_loopback, socket_url
from tests.cli_support import DISTRO, clean_env, free_port, run, start, stop, wait_http
from tests.conftest import make_settings

POSTMARK = {"pm": {"type": "postmark", "server_token": "pm-token"}}


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("::ffff:127.0.0.1", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104
        ("::", False),
        ("", False),
        ("192.168.1.20", False),
        ("::ffff:10.0.0.1", False),
        ("press.example.org", False),
        ("localhost.example.org", False),
    ],
)
def test_loopback_is_127_0_0_0_8_ipv6_loopback_and_localhost(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


def settings_for(engine: Engine, host: str, **sections: object) -> Settings:
    return make_settings(str(engine.url), server={"host": host}, **sections)


def test_the_app_refuses_a_sandbox_provider_beyond_loopback(engine: Engine) -> None:
    settings = settings_for(engine, "0.0.0.0")  # noqa: S104
    with pytest.raises(ConfigError, match="--expose-sandbox"):
        build_app(settings, engine, "http://127.0.0.1:8000")


def sandbox_mounted(app: object) -> bool:
    return any(isinstance(r, Mount) and r.path == "/sandbox" for r in app.routes)  # type: ignore[attr-defined]


def test_beyond_loopback_a_sandbox_not_sending_is_left_out(engine: Engine) -> None:
    settings = settings_for(
        engine,
        "0.0.0.0",  # noqa: S104
        providers=POSTMARK,
        sending={"provider": "pm"},
    )
    app, sandbox = build_app(settings, engine, "http://127.0.0.1:8000")
    assert sandbox is None
    assert not sandbox_mounted(app)


def test_on_loopback_or_when_exposed_the_sandbox_is_mounted(engine: Engine) -> None:
    for host, expose in (("127.0.0.1", False), ("0.0.0.0", True)):  # noqa: S104
        app, sandbox = build_app(
            settings_for(engine, host), engine, "http://127.0.0.1:8000", expose_sandbox=expose
        )
        assert sandbox is not None
        sandbox.close()
        assert sandbox_mounted(app)


def test_a_sandbox_app_for_a_public_address_needs_the_flag() -> None:
    options = SandboxOptions(server_tokens=frozenset({"t"}), listen_host="0.0.0.0")  # noqa: S104
    with pytest.raises(ConfigError, match=r"0\.0\.0\.0.*--expose-sandbox"):
        create_sandbox_app(options)
    _app, sandbox = create_sandbox_app(
        SandboxOptions(
            server_tokens=frozenset({"t"}),
            listen_host="0.0.0.0",  # noqa: S104
            expose_beyond_loopback=True,
        )
    )
    sandbox.close()


def test_an_app_bound_beyond_loopback_serves_no_sandbox_keys(engine: Engine) -> None:
    """Over real HTTP, on every interface: nothing under /sandbox, keys and inbox included."""
    sock = bind_socket("0.0.0.0", 0)  # noqa: S104
    url = socket_url(sock)
    settings = settings_for(
        engine,
        "0.0.0.0",  # noqa: S104
        providers=POSTMARK,
        sending={"provider": "pm"},
    )
    app, _sandbox = build_app(settings, engine, url)
    with ServerThread(app, sock), httpx.Client(base_url=url, timeout=10) as http:
        for path in ("/sandbox/keys", "/sandbox/keys/sns-cert.pem", "/sandbox/api/messages"):
            assert http.get(path).status_code == 404, path
        assert http.get("/sandbox/").status_code == 404
        assert "/sandbox/" not in http.get("/").text  # the landing page does not offer it


# --- the commands -------------------------------------------------------------------------


def one_line_error(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def run_briefly(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(
            [DISTRO, *args], cwd=cwd, env=clean_env(), capture_output=True, text=True, timeout=60
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"distro {' '.join(args)} started serving")


def test_serve_on_every_interface_with_the_sandbox_refuses_to_start(tmp_path: Path) -> None:
    assert run(tmp_path, "init").returncode == 0
    done = run_briefly(tmp_path, "serve", "--host", "0.0.0.0", "--port", str(free_port()))  # noqa: S104
    line = one_line_error(done)
    assert line.startswith("error: refusing to serve the sandbox on 0.0.0.0")
    assert "--expose-sandbox" in line


def test_standalone_sandbox_on_every_interface_refuses_to_start(tmp_path: Path) -> None:
    done = run_briefly(tmp_path, "sandbox", "--host", "0.0.0.0", "--port", str(free_port()))  # noqa: S104
    line = one_line_error(done)
    assert line.startswith("error: refusing to serve the sandbox on 0.0.0.0")


@pytest.fixture
def serving() -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        stop(process)


def on_every_interface(cwd: Path, started: list[subprocess.Popen[bytes]], *args: str) -> str:
    """Start ``distro ARGS`` listening on 0.0.0.0; the URL to reach it over loopback."""
    port = free_port()
    started.append(start(cwd, *args, "--host", "0.0.0.0", "--port", str(port)))  # noqa: S104
    return f"http://127.0.0.1:{port}"


def test_expose_sandbox_serves_it_on_every_interface(
    tmp_path: Path, serving: list[subprocess.Popen[bytes]]
) -> None:
    assert run(tmp_path, "init").returncode == 0
    url = on_every_interface(tmp_path, serving, "serve", "--expose-sandbox")
    assert wait_http(f"{url}/sandbox/keys").status_code == 200
    sandbox_url = on_every_interface(
        tmp_path, serving, "sandbox", "--no-webhooks", "--expose-sandbox"
    )
    assert wait_http(f"{sandbox_url}/keys").status_code == 200


def test_serve_with_a_real_provider_on_every_interface_leaves_the_sandbox_out(
    tmp_path: Path, serving: list[subprocess.Popen[bytes]]
) -> None:
    (tmp_path / "config.toml").write_text(
        '[sending]\nprovider = "pm"\n\n[providers.pm]\ntype = "postmark"\nserver_token = "t"\n'
    )
    assert run(tmp_path, "init").returncode == 0
    url = on_every_interface(tmp_path, serving, "serve")
    assert wait_http(f"{url}/healthz").status_code == 200
    assert httpx.get(f"{url}/sandbox/keys", timeout=10).status_code == 404


def test_serve_beyond_loopback_without_a_public_url_warns_about_the_links(tmp_path: Path) -> None:
    """Links in emails start with server.public_url; on every interface without one they would
    start with http://0.0.0.0:PORT, which no recipient can open: serve says so at start."""
    (tmp_path / "config.toml").write_text(
        '[sending]\nprovider = "pm"\n\n[providers.pm]\ntype = "postmark"\nserver_token = "t"\n'
    )
    assert run(tmp_path, "init").returncode == 0
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [DISTRO, "serve", "--host", "0.0.0.0", "--port", str(port)],  # noqa: S104
            cwd=tmp_path,
            env=clean_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            assert wait_http(f"http://127.0.0.1:{port}/healthz").status_code == 200
        finally:
            stop(process)
    said = " ".join(log.read_text(encoding="utf-8").split())
    assert "Warning: server.public_url is not set" in said
    assert f"http://0.0.0.0:{port}" in said
