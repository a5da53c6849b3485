"""The benchmark's parts that need no socket: mix, payloads, generated site, statistics."""

from __future__ import annotations

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from bench.charger import SCRIPTS, Kind, V16Script, parse_mix
from bench.figures import Options, PhaseFigures, Report, ServerFigures, percentile, render
from bench.profiles import GENERATED, OTHER, VALIDATION, layer_of
from bench.site import charger_id, write_site
from gateway.config import load_settings
from ocpp_central.translate.rpc import OcppVersion
from ocpp_central.validation import Validators

WIRE_VERSION = {"1.6": OcppVersion.V16, "2.0.1": OcppVersion.V201}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("meter=6,status=2", {Kind.METER: 6, Kind.STATUS: 2}),
        (" heartbeat = 3 , tx=0 ,meter", {Kind.HEARTBEAT: 3, Kind.TX: 0, Kind.METER: 1}),
    ],
)
def test_a_mix_is_kinds_with_weights(text, expected):
    """A mix reads kind=weight pairs; a kind without a weight weighs 1."""
    assert parse_mix(text) == expected


@pytest.mark.parametrize("text", ["boot=1", "meter=x", "meter=-1", "tx=0", ""])
def test_a_mix_without_a_known_kind_or_a_positive_weight_is_refused(text):
    """Unknown kinds, bad or negative weights and all-zero mixes are errors."""
    with pytest.raises(ValueError, match="mix"):
        parse_mix(text)


def test_every_cycle_of_a_mix_has_exact_shares():
    """Over each full cycle a charger sends each kind exactly as often as its weight."""
    script = V16Script(
        "BENCH-00001", parse_mix("meter=6,status=2,heartbeat=1,tx=1"), random.Random(3)
    )
    actions = Counter(script.next_call()[0] for _ in range(20))
    assert actions["MeterValues"] == 12
    assert actions["StatusNotification"] == 4
    assert actions["Heartbeat"] == 2
    assert actions["StartTransaction"] + actions["StopTransaction"] == 2


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32), version=st.sampled_from(sorted(SCRIPTS)))
def test_every_message_a_charger_sends_passes_the_gateways_schemas(seed, version):
    """Boot, status, meter values, heartbeats and transactions are valid OCPP payloads."""
    script = SCRIPTS[version](
        charger_id(7), parse_mix("meter=3,status=1,heartbeat=1,tx=2"), random.Random(seed)
    )
    validators = Validators(WIRE_VERSION[version], strict=True)
    calls = [script.boot(), script.status()]
    for _ in range(30):
        action, payload = script.next_call()
        calls.append((action, payload))
        if action == "StartTransaction":
            script.on_result(action, {"transactionId": 42, "idTagInfo": {"status": "Accepted"}})
    for action, payload in calls:
        assert validators.check_request(action, json.loads(payload)) is None, (action, payload)


def test_a_1_6_charger_sends_the_transaction_id_it_was_given():
    """MeterValues inside a transaction and the StopTransaction carry the issued id."""
    script = V16Script("BENCH-00001", parse_mix("tx=1,meter=1"), random.Random(1))
    sent = []
    for _ in range(4):
        action, payload = script.next_call()
        sent.append((action, json.loads(payload)))
        if action == "StartTransaction":
            script.on_result(action, {"transactionId": 77})
    started = [p for a, p in sent if a != "StartTransaction"]
    assert all(p["transactionId"] == 77 for p in started if "transactionId" in p)
    assert any(a == "StopTransaction" and p["transactionId"] == 77 for a, p in sent)


@pytest.mark.parametrize("version", sorted(SCRIPTS))
def test_the_generated_site_is_a_valid_configuration(tmp_path: Path, version: str):
    """N chargers on loopback with profile 0, one EVSE each, the drivers' token known."""
    settings_ = load_settings(write_site(tmp_path, 120, version))

    assert [c.id for c in settings_.chargers] == [charger_id(i) for i in range(120)]
    assert {c.security_profile for c in settings_.chargers} == {0}
    assert len(settings_.topology().evses) == 120
    assert len(settings_.locations) == 3
    assert settings_.ocpp.host == "127.0.0.1"
    assert settings_.database_url().endswith(str(tmp_path / "data" / "gateway.db"))


@pytest.mark.parametrize(
    ("fraction", "expected"), [(0.0, 1.0), (0.5, 5.0), (0.99, 10.0), (1.0, 10.0)]
)
def test_percentiles_are_nearest_rank(fraction, expected):
    """The p-th percentile is a value that was measured, never an interpolation."""
    assert percentile([float(v) for v in range(1, 11)], fraction) == expected


def test_no_measurement_has_percentile_zero():
    """An empty phase reports 0 rather than failing."""
    assert percentile([], 0.99) == 0.0


def _phase(name: str, answered: int, cpu_s: float) -> PhaseFigures:
    return PhaseFigures(
        name=name,
        seconds=10.0,
        window_s=10.0,
        sent=answered,
        answered=answered,
        in_window=answered,
        call_errors=0,
        unanswered=0,
        msgs_per_s=answered / 10.0,
        p50_ms=1.0,
        p99_ms=2.0,
        max_ms=3.0,
        by_action={"Heartbeat": answered},
        first_errors=[],
        server_cpu_s=cpu_s,
    )


def _server(kind: str, answered: int, kib: float) -> ServerFigures:
    return ServerFigures(
        server=kind,
        chargers=10,
        startup_s=0.1,
        connect_s=0.1,
        rss_before_kib=1000,
        rss_idle_kib=1000 + round(10 * kib),
        kib_per_connection=kib,
        marginal_kib_per_connection=kib,
        idle=_phase("idle", 10, 0.1),
        saturation=_phase("saturation", answered, 10.0),
        paced=_phase("paced", 100, 1.0),
        server_stats={},
    )


def _report(
    echo: ServerFigures | None, gateway: ServerFigures, echo_after: ServerFigures | None = None
) -> Report:
    return Report(
        options=Options(chargers=10),
        cpus=2,
        server_core=0,
        load_cores=[1],
        echo=echo,
        gateway=gateway,
        echo_after=echo_after,
    )


def test_the_ratios_compare_the_gateway_with_the_mean_of_both_echo_runs():
    """A machine that slowed down between the echo runs moves the ratio by half the drift."""
    report = _report(
        _server("echo", 80_000, 16.0),
        _server("gateway", 30_000, 18.0),
        _server("echo", 40_000, 20.0),
    )
    assert report.throughput_ratio == pytest.approx(0.5)
    assert report.efficiency_ratio == pytest.approx(0.5)
    assert report.memory_ratio == pytest.approx(1.0)
    table = render(report)
    assert "echo, after" in table
    assert "mean of the two echo runs" in table
    assert "50% PASS" in table
    assert set(report.as_dict()) >= {"echo", "gateway", "echo_after", "ratios"}


def test_with_one_echo_run_the_ratios_use_it_alone():
    """``--skip-echo`` aside, a report with one echo run compares with that run."""
    report = _report(_server("echo", 80_000, 16.0), _server("gateway", 20_000, 18.0))
    assert report.throughput_ratio == pytest.approx(0.25)
    assert "mean of the two" not in render(report)
    no_echo = _report(None, _server("gateway", 20_000, 18.0))
    assert no_echo.throughput_ratio is None
    assert no_echo.memory_ratio is None


@pytest.mark.parametrize(
    ("filename", "name", "layer"),
    [
        ("/venv/site-packages/sqlalchemy/engine/base.py", "execute", "SQLite via SQLAlchemy"),
        ("/repo/gateway/storage/sql.py", "_write", "store adapter"),
        ("/repo/ocpp_central/translate/meter.py", "_sample", "translation"),
        ("/venv/site-packages/websockets/protocol.py", "parse", "websockets"),
        ("<string>", "validate_meterValues", VALIDATION),
        ("<string>", "__init__", GENERATED),
        ("/somewhere/else.py", "f", OTHER),
    ],
)
def test_profile_entries_are_charged_to_the_layer_of_their_file(filename, name, layer):
    """Each function's own time belongs to the layer its source file is in."""
    found = layer_of(filename, name)
    assert found is not None
    assert found.startswith(layer)


def test_builtins_have_no_layer_of_their_own():
    """C functions are charged to their callers' layers instead."""
    assert layer_of("~", "isinstance") is None


def test_the_echo_on_the_gateway_socket_is_shown_apart_from_the_target_ratios():
    """It gets its own column and ratio; the targets still compare with the bare echoes."""
    report = Report(
        options=Options(chargers=10),
        cpus=2,
        server_core=0,
        load_cores=[1],
        echo=_server("echo", 80_000, 16.0),
        gateway=_server("gateway", 40_000, 18.0),
        echo_after=_server("echo", 80_000, 16.0),
        echo_socket=_server("echo-socket", 100_000, 16.0),
    )
    assert report.throughput_ratio == pytest.approx(0.5)
    assert report.own_work_ratio == pytest.approx(0.4)
    table = render(report)
    assert "echo, gw socket" in table
    assert "40% (the gateway's own work alone)" in table
    assert report.as_dict()["ratios"][
        "gateway_over_echo_on_gateway_socket_msgs_per_server_cpu_s"
    ] == pytest.approx(0.4)
    assert _report(_server("echo", 80_000, 16.0), _server("gateway", 1, 1.0)).own_work_ratio is None
