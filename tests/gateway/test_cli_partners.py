"""`gateway partners ...` on a real database: invite, list, remove, a failing connect."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from gateway.cli import main


@pytest.fixture(autouse=True)
def _keep_logging() -> Iterator[None]:
    """The command configures logging for a terminal; give the test run its own back."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(
        f"""
[operator]
country_code = "NL"
party_id = "CEG"
name = "Example Charging B.V."

[http]
public_url = "https://cpo.example"

[storage]
data_dir = "{tmp_path / "data"}"

[ocpi]
allow_private_partner_addresses = true
partner_timeout_s = 2
"""
    )
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["partners", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_invite_prints_the_versions_url_and_a_token_a(config, capsys):
    """--json gives exactly versions_url and token, for scripts; plain text says until when."""
    code, out, _ = run(capsys, "invite", "emsp", "--json", "--config", str(config))
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"versions_url", "token"}
    assert doc["versions_url"] == "https://cpo.example/ocpi/versions"
    assert len(doc["token"]) == 43

    code, out, _ = run(capsys, "invite", "other", "--config", str(config))
    assert code == 0
    assert "versions URL: https://cpo.example/ocpi/versions" in out
    assert "(single use)" in out
    assert (config.parent / "data" / "ocpi.key").exists()


def test_list_and_remove(config, capsys):
    """Invitations show in the list until removed; removing nothing is an error."""
    run(capsys, "invite", "emsp", "--config", str(config))

    code, out, _ = run(capsys, "list", "--config", str(config))
    assert code == 0
    assert out.startswith("emsp  invited  token A valid until ")
    code, out, _ = run(capsys, "list", "--json", "--config", str(config))
    assert [row["name"] for row in json.loads(out)] == ["emsp"]

    assert run(capsys, "remove", "emsp", "--config", str(config))[:2] == (0, "removed emsp\n")
    code, _, err = run(capsys, "remove", "emsp", "--config", str(config))
    assert code == 1
    assert "no partner or invitation called 'emsp'" in err
    assert run(capsys, "list", "--config", str(config))[1] == "no partners\n"


def test_a_failed_connect_exits_1_and_stores_nothing(config, capsys):
    """An unreachable partner: exit 1 with the reason; no partner is left behind."""
    code, _, err = run(
        capsys,
        "connect",
        "--versions-url",
        "http://127.0.0.1:9/ocpi/versions",
        "--token",
        "their-token-a",
        "--config",
        str(config),
    )
    assert code == 1
    assert "registration with http://127.0.0.1:9/ocpi/versions failed" in err
    assert "OCPI 3001" in err
    assert run(capsys, "list", "--config", str(config))[1] == "no partners\n"


def test_rotate_needs_a_registered_partner(config, capsys):
    """Rotating an unknown name says so."""
    code, _, err = run(capsys, "rotate", "ghost", "--config", str(config))
    assert code == 1
    assert "no registered partner called 'ghost'" in err
