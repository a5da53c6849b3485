"""The installed command: version, check-config, and a real process that stops on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.builders import SHIPPED_CONFIG

pytestmark = pytest.mark.integration


def run_gateway(
    *args: str, env: dict[str, str] | None = None, stdin: str = ""
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        input=stdin,
        timeout=60,
        env={**os.environ, **(env or {})},
        check=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        assert isinstance(port, int)
        return port


def test_version_is_printed():
    """``gateway --version`` names the release."""
    from gateway import __version__

    result = run_gateway("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"gateway {__version__}"


def test_check_config_accepts_the_shipped_file():
    """``gateway check-config`` summarises a good file and exits 0."""
    result = run_gateway("check-config", "--config", str(SHIPPED_CONFIG))
    assert result.returncode == 0
    assert "ok (2 chargers, 1 locations, 3 EVSEs, 2 tariffs)" in result.stdout


def test_check_config_names_file_key_and_reason(tmp_path):
    """A bad file exits 2 with the file, the key path and the reason on stderr."""
    bad = tmp_path / "config.toml"
    bad.write_text(
        SHIPPED_CONFIG.read_text().replace("heartbeat_interval_s", "heartbeat_intervall_s")
    )

    result = run_gateway("check-config", env={"GATEWAY_CONFIG": str(bad)})

    assert result.returncode == 2
    assert f"{bad}: ocpp.heartbeat_intervall_s: unknown key" in result.stderr


def test_hash_password_prints_a_config_line():
    """The printed hash is accepted by config.toml and verifies the password."""
    from gateway.passwords import verify_password

    result = run_gateway("chargers", "hash-password", "--stdin", stdin="0123456789abcdef0123\n")
    assert result.returncode == 0
    line = result.stdout.strip()
    assert line.startswith('password_hash = "scrypt$')
    assert verify_password("0123456789abcdef0123", line.split('"')[1])
    assert not verify_password("wrong-password-here", line.split('"')[1])

    short = run_gateway("chargers", "hash-password", "--stdin", stdin="short\n")
    assert short.returncode == 2


def test_the_process_serves_and_stops_cleanly_on_sigterm(tmp_path: Path):
    """``python -m gateway serve`` answers /healthz, then exits 0 within 5 s of SIGTERM."""
    ocpp_port, http_port = free_port(), free_port()
    config = tmp_path / "config.toml"
    config.write_text(
        SHIPPED_CONFIG.read_text()
        .replace('host = "0.0.0.0"\nport = 9000', f'host = "127.0.0.1"\nport = {ocpp_port}')
        .replace('host = "0.0.0.0"\nport = 8000', f'host = "127.0.0.1"\nport = {http_port}')
        .replace('data_dir = "data"', f'data_dir = "{tmp_path / "data"}"')
    )
    proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
        [sys.executable, "-m", "gateway", "serve", "--config", str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        r: httpx.Response | None = None
        while r is None:
            try:
                r = httpx.get(f"http://127.0.0.1:{http_port}/healthz", timeout=1)
            except httpx.TransportError:
                assert proc.poll() is None, proc.communicate()
                assert time.monotonic() < deadline, "gateway did not start"
                time.sleep(0.1)
        assert r.status_code == 200
        assert r.json()["status"] == "ok"

        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=10)
        assert proc.returncode == 0, stderr
        assert time.monotonic() - started < 5
        assert "gateway stopped" in stderr
        assert (tmp_path / "data" / "gateway.db").exists()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
