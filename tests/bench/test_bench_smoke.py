"""The load benchmark runs end to end against the real gateway (figures, never timings)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bench import message_cost
from bench.figures import Options, Report, render
from bench.ocpp_load import run_server

pytestmark = pytest.mark.integration


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_a_quick_run_against_the_gateway_is_answered_in_full(tmp_path: Path, version: str):
    """Every message of every phase gets a CALLRESULT, and every figure is reported."""
    options = Options(chargers=4, duration_s=1.0, rate=5.0, version=version)

    figures = run_server("gateway", options, workdir=tmp_path, core=None)

    assert figures.clean, [
        p.first_errors for p in (figures.idle, figures.saturation, figures.paced)
    ]
    assert figures.idle.answered == 2 * options.chargers  # BootNotification, StatusNotification
    for phase in (figures.idle, figures.saturation, figures.paced):
        assert phase.sent == phase.answered > 0
        assert phase.call_errors == phase.unanswered == 0
        assert phase.p50_ms > 0
        assert phase.p99_ms >= phase.p50_ms
    assert figures.saturation.msgs_per_s > 0
    assert figures.rss_idle_kib > 0
    assert figures.server_stats["commit_batches"] > 0
    assert figures.server_stats["rows_charger"] == options.chargers
    assert figures.server_stats["rows_meter_sample"] > 0

    report = Report(
        options=options, cpus=1, server_core=None, load_cores=None, echo=None, gateway=figures
    )
    assert "saturation: msg/s" in render(report)
    assert json.loads(json.dumps(report.as_dict()))["gateway"]["server"] == "gateway"


@pytest.mark.parametrize("kind", ["echo", "echo-socket"])
def test_both_echo_servers_answer_every_message(tmp_path: Path, kind: str):
    """The bare echo and the echo on the gateway's socket answer every phase in full."""
    options = Options(chargers=4, duration_s=1.0, rate=5.0)

    figures = run_server(kind, options, workdir=tmp_path, core=None)

    assert figures.clean
    assert figures.saturation.answered == figures.saturation.sent > 0
    assert figures.paced.answered == figures.paced.sent > 0


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
def test_the_in_process_cost_run_answers_every_message(tmp_path: Path, version: str):
    """Every message of the mix is answered with a CALLRESULT and CPU is counted."""
    args = message_cost.parser().parse_args(
        ["--chargers", "5", "--messages", "100", "--version", version]
    )

    figures = message_cost.measure(args, tmp_path)

    assert figures["messages"] == 5 * (100 // 5 + 2)  # with BootNotification, Status
    assert figures["call_errors"] == 0
    assert figures["cpu_us_per_msg"] > figures["loop_us_per_msg"] > 0
    assert figures["writer_us_per_msg"] > 0
    assert figures["batches"] > 0
