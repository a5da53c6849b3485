"""Loading config.toml: the shipped file works, and every mistake names file, key, reason."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest

from gateway.config import ConfigError, load_settings
from gateway.domain.topology import ConnectorRef
from tests.builders import SHIPPED_CONFIG, shipped_config


def write(tmp_path: Path, raw: dict[str, Any]) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(_to_toml(raw))
    return path


def _to_toml(raw: dict[str, Any]) -> str:
    """A tiny TOML writer for the shapes config.toml uses (tables, arrays of tables)."""
    lines: list[str] = []

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, str):
            return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
        if isinstance(v, list):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        return str(v)

    def table(prefix: str, obj: dict[str, Any], array: bool) -> None:
        lines.append(f"[[{prefix}]]" if array else f"[{prefix}]")
        emit(prefix, obj)

    def emit(prefix: str, obj: dict[str, Any]) -> None:
        nested: list[tuple[str, Any, bool]] = []
        for k, v in obj.items():
            if isinstance(v, dict):
                nested.append((k, v, False))
            elif isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
                nested.append((k, v, True))
            else:
                lines.append(f"{k} = {scalar(v)}")
        for k, v, is_array in nested:
            name = f"{prefix}.{k}" if prefix else k
            for item in v if is_array else [v]:
                table(name, item, is_array)

    emit("", raw)
    return "\n".join(lines) + "\n"


def problems(tmp_path: Path, raw: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(ConfigError) as info:
        load_settings(write(tmp_path, raw))
    assert str(tmp_path / "config.toml") in str(info.value)
    return info.value.problems


def test_the_shipped_config_loads_and_describes_the_example_site():
    """One Location: a 1.6 AC charger with two connectors, a 2.0.1 DC charger (CCS + CHAdeMO)."""
    s = load_settings(SHIPPED_CONFIG)

    assert [(c.id, c.ocpp_version.value) for c in s.chargers] == [
        ("AC-0001", "1.6"),
        ("DC-0001", "2.0.1"),
    ]
    (loc,) = s.locations
    dc = [e for e in loc.evses if e.charger == "DC-0001"]
    assert [c.standard.value for c in dc[0].connectors] == ["IEC_62196_T2_COMBO", "CHADEMO"]
    assert {b.uid: b.connectors for b in s.topology().evses} == {
        "AC-0001-1": (ConnectorRef(evse=None, connector=1),),
        "AC-0001-2": (ConnectorRef(evse=None, connector=2),),
        "DC-0001-1": (ConnectorRef(evse=1, connector=1), ConnectorRef(evse=1, connector=2)),
    }
    assert s.storage.data_dir == SHIPPED_CONFIG.parent / "data"


def test_a_typo_in_a_key_is_named(tmp_path):
    """Unknown keys are refused with their full path."""
    raw = shipped_config()
    raw["ocpp"]["heartbeat_intervall_s"] = 60

    assert problems(tmp_path, raw) == [
        ("ocpp.heartbeat_intervall_s", "unknown key (check its spelling)")
    ]


def test_a_wrong_type_is_named(tmp_path):
    """A string where a number belongs names the key and says what was expected."""
    raw = shipped_config()
    raw["ocpp"]["port"] = "nine thousand"

    ((key, reason),) = problems(tmp_path, raw)
    assert key == "ocpp.port"
    assert "integer" in reason


def test_an_unknown_connector_standard_is_named(tmp_path):
    """A connector standard outside OCPI's ConnectorType list is refused."""
    raw = shipped_config()
    raw["locations"][0]["evses"][0]["connectors"][0]["standard"] = "TYPE2"

    ((key, reason),) = problems(tmp_path, raw)
    assert key == "locations[0].evses[0].connectors[0].standard"
    assert "IEC_62196_T2" in reason


def test_an_evse_mapped_twice_is_refused(tmp_path):
    """Two EVSEs claiming the same charger connector would double-publish one plug."""
    raw = shipped_config()
    raw["locations"][0]["evses"][1]["connectors"][0]["ocpp_connector_id"] = 1

    ((key, reason),) = problems(tmp_path, raw)
    assert key == "locations[0].evses[1].connectors[0].ocpp_connector_id"
    assert "already mapped by locations[0].evses[0]" in reason


def test_an_unknown_tariff_id_is_refused(tmp_path):
    """A connector may only reference tariffs the file defines."""
    raw = shipped_config()
    raw["locations"][0]["evses"][0]["connectors"][0]["tariff_ids"] = ["NOPE"]

    assert problems(tmp_path, raw) == [
        ("locations[0].evses[0].connectors[0].tariff_ids", "unknown tariff id 'NOPE'")
    ]


@pytest.mark.parametrize(
    ("mutate", "key", "words"),
    [
        (
            lambda r: r["chargers"].append(dict(r["chargers"][0])),
            "chargers[2].id",
            "duplicate charger id",
        ),
        (
            lambda r: r["tariffs"].append(dict(r["tariffs"][0])),
            "tariffs[2].id",
            "duplicate tariff id",
        ),
        (
            lambda r: r["locations"][0]["evses"][1].update(uid="AC-0001-1"),
            "locations[0].evses[0].uid",
            "duplicate EVSE uid",
        ),
        (
            lambda r: r["locations"][0]["evses"][0].update(charger="GHOST"),
            "locations[0].evses[0].charger",
            "unknown charger 'GHOST'",
        ),
        (
            lambda r: r["locations"][0]["evses"][2].pop("ocpp_evse_id"),
            "locations[0].evses[2].ocpp_evse_id",
            "required for an OCPP 2.0.1 charger",
        ),
        (
            lambda r: r["locations"][0]["evses"][0].update(ocpp_evse_id=1),
            "locations[0].evses[0].ocpp_evse_id",
            "OCPP 1.6 chargers have no EVSE ids",
        ),
        (
            lambda r: r["chargers"][0].update(security_profile=1),
            "chargers[0]",
            "needs password_hash",
        ),
        (lambda r: r["ocpp"].update(trusted_network=False), "ocpp.trusted_network", "no TLS"),
        (
            lambda r: r["chargers"][0].update(security_profile=3),
            "ocpp.tls_cert_file",
            "need tls_cert_file",
        ),
        (lambda r: r["chargers"][0].update(id="bad:id"), "chargers[0].id", "pattern"),
    ],
)
def test_cross_reference_mistakes_are_named(tmp_path, mutate, key, words):
    """Duplicates, dangling references and unsafe listeners stop start-up with a reason."""
    raw = shipped_config()
    mutate(raw)

    found = problems(tmp_path, raw)
    assert any(k == key and words in reason for k, reason in found), found


def test_profile_one_on_loopback_needs_no_trusted_network_flag(tmp_path):
    """Only a non-loopback listener must be declared trusted for unencrypted profiles."""
    raw = shipped_config()
    raw["ocpp"].update(trusted_network=False, host="127.0.0.1")

    assert load_settings(write(tmp_path, raw)).ocpp.host == "127.0.0.1"


def test_a_missing_file_and_a_syntax_error_are_reported(tmp_path):
    """Start-up problems before validation still name the file."""
    with pytest.raises(ConfigError, match="file not found"):
        load_settings(tmp_path / "absent.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("[ocpp\nport = 1\n")
    with pytest.raises(ConfigError, match=r"bad\.toml: \(syntax\)"):
        load_settings(bad)


def test_the_environment_can_point_at_another_file(tmp_path, monkeypatch):
    """GATEWAY_CONFIG selects the file; GATEWAY_DATA_DIR moves the database."""
    path = write(tmp_path, shipped_config())
    monkeypatch.setenv("GATEWAY_CONFIG", str(path))
    monkeypatch.setenv("GATEWAY_DATA_DIR", str(tmp_path / "state"))

    s = load_settings()

    assert s.storage.data_dir == tmp_path / "state"
    assert s.database_url() == f"sqlite:///{tmp_path / 'state' / 'gateway.db'}"


def test_settings_are_frozen():
    """Nothing can change the settings after start-up."""
    s = load_settings(SHIPPED_CONFIG)
    with pytest.raises(Exception, match="frozen"):
        s.ocpp.port = 1  # type: ignore[misc]


def test_the_toml_writer_is_faithful():
    """Sanity check of the writer used by these tests."""
    assert tomllib.loads(_to_toml(shipped_config())) == shipped_config()
