"""Benchmark vocabulary: what was asked (Options), what was measured, the printed table."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bench.charger import DEFAULT_MIX, format_mix, parse_mix

#: Targets from the issue, checked (and printed) but never enforced by the tests.
TARGET_RATIO = 0.50
TARGET_P99_MS = 25.0
TARGET_KIB_PER_CONNECTION = 20.0
NOISY_SHARE = 0.10  # other processes' CPU share above which a run's msg/s is suspect


class BenchError(Exception):
    """The benchmark cannot run (or could not finish) as asked; the message says why."""


@dataclass(frozen=True, slots=True, kw_only=True)
class Options:
    """What to run: how many chargers, how long, which mix and version."""

    chargers: int = 1000
    duration_s: float = 10.0
    rate: float = 1.0
    mix: str = DEFAULT_MIX
    version: str = "1.6"
    seed: int = 1


# --- figures --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseFigures:
    """What one phase measured."""

    name: str
    seconds: float
    window_s: float  # the part of the phase its throughput and latencies are counted over
    sent: int
    answered: int  # CALLRESULTs, whenever they came
    in_window: int  # CALLRESULTs that came within the phase's measuring window
    call_errors: int
    unanswered: int
    msgs_per_s: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    by_action: dict[str, int]
    first_errors: list[str]
    per_second: list[int] = field(default_factory=list)  # answers in each second of the phase
    server_cpu_s: float = 0.0  # CPU the server process used during the phase (all threads)
    server_loop_cpu_s: float = 0.0  # of which its event loop thread (the rest: executor threads)
    load_cpu_s: float = 0.0  # CPU the load generator used
    other_cpu_s: float = 0.0  # CPU everything else on the machine used: noise in the figures

    @property
    def per_server_cpu_s(self) -> float:
        """Messages answered per CPU-second of the server (drain included in both)."""
        return self.answered / self.server_cpu_s if self.server_cpu_s else 0.0

    @property
    def server_busy(self) -> float:
        """Share of one core the server used: near 1.0 means the server was the limit."""
        return self.server_cpu_s / self.seconds if self.seconds else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class ServerFigures:
    """Everything measured against one server."""

    server: str
    chargers: int
    startup_s: float
    connect_s: float
    rss_before_kib: int
    rss_idle_kib: int
    kib_per_connection: float  # RSS growth from no connection to N idle ones, per connection
    marginal_kib_per_connection: float  # the same over the second half of the connections
    idle: PhaseFigures
    saturation: PhaseFigures
    paced: PhaseFigures
    server_stats: dict[str, Any]
    log_errors: list[str] = field(default_factory=list)  # the server's first logged errors

    @property
    def kib_per_idle_connection(self) -> float:
        """The figure that counts: the larger of the whole and the marginal growth."""
        return max(self.kib_per_connection, self.marginal_kib_per_connection)

    @property
    def clean(self) -> bool:
        """Every message sent got a CALLRESULT."""
        return all(
            p.call_errors == 0 and p.unanswered == 0
            for p in (self.idle, self.saturation, self.paced)
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class Report:
    """Both servers' figures and the ratios that count.

    The echo server runs before and after the gateway: a VM's speed drifts within minutes,
    and the ratios compare the gateway with the mean of both echo runs, so a drift during
    the run moves them by half as much and shows as a gap between the two echo columns.
    """

    options: Options
    cpus: int
    server_core: int | None
    load_cores: list[int] | None
    echo: ServerFigures | None
    gateway: ServerFigures
    echo_after: ServerFigures | None = None
    #: The echo on the gateway's websocket class (`ChargerSocket`), not counted in the ratios
    #: the targets use: against it, the gateway's figure is its own work alone.
    echo_socket: ServerFigures | None = None

    @property
    def echoes(self) -> list[ServerFigures]:
        return [s for s in (self.echo, self.echo_after) if s is not None]

    def _echo_mean(self, figure: Callable[[ServerFigures], float]) -> float:
        values = [figure(s) for s in self.echoes]
        return sum(values) / len(values) if values else 0.0

    @property
    def throughput_ratio(self) -> float | None:
        echo = self._echo_mean(lambda s: s.saturation.msgs_per_s)
        return self.gateway.saturation.msgs_per_s / echo if echo else None

    @property
    def efficiency_ratio(self) -> float | None:
        """Gateway / echo messages per CPU-second of the server: robust to a busy machine."""
        echo = self._echo_mean(lambda s: s.saturation.per_server_cpu_s)
        gateway = self.gateway.saturation
        return gateway.per_server_cpu_s / echo if echo and gateway.server_cpu_s else None

    @property
    def own_work_ratio(self) -> float | None:
        """Gateway / echo on the gateway's socket, messages per server CPU-second."""
        echo, gateway = self.echo_socket, self.gateway.saturation
        if echo is None or not echo.saturation.server_cpu_s or not gateway.server_cpu_s:
            return None
        return gateway.per_server_cpu_s / echo.saturation.per_server_cpu_s

    @property
    def memory_ratio(self) -> float | None:
        echo = self._echo_mean(lambda s: s.kib_per_idle_connection)
        return self.gateway.kib_per_idle_connection / echo if echo > 0 else None

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        for name in ("echo", "gateway", "echo_after", "echo_socket"):
            server: ServerFigures | None = getattr(self, name)
            if server is None:
                continue
            entry = doc[name]
            entry["kib_per_idle_connection"] = server.kib_per_idle_connection
            for phase in (server.idle, server.saturation, server.paced):
                entry[phase.name]["server_busy"] = round(phase.server_busy, 3)
                entry[phase.name]["per_server_cpu_s"] = round(phase.per_server_cpu_s, 1)
        doc["ratios"] = {
            "gateway_over_echo_msgs_per_s": self.throughput_ratio,
            "gateway_over_echo_kib_per_connection": self.memory_ratio,
            "gateway_over_echo_msgs_per_server_cpu_s": self.efficiency_ratio,
            "gateway_over_echo_on_gateway_socket_msgs_per_server_cpu_s": self.own_work_ratio,
        }
        return doc


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), math.ceil(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


# --- output ---------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def render(report: Report) -> str:
    """The report as a table for people."""
    o = report.options
    mix = format_mix(parse_mix(o.mix))
    columns = [
        (label, s)
        for label, s in (
            ("echo", report.echo),
            ("gateway", report.gateway),
            ("echo, after", report.echo_after),
            ("echo, gw socket", report.echo_socket),
        )
        if s is not None
    ]
    servers = [s for _, s in columns]
    lines = [
        f"OCPP load benchmark: {o.chargers} chargers, OCPP {o.version}, mix {mix}, "
        f"{o.duration_s:g} s per phase, paced at {o.rate:g} msg/s per charger",
        (
            f"server pinned to CPU {report.server_core}, load generator on CPU "
            f"{','.join(map(str, report.load_cores))} ({report.cpus} CPUs)"
            if report.load_cores
            else f"no pinning ({report.cpus} CPU(s)): server and load share the machine"
        ),
        "",
    ]
    width = 40
    column = 20
    header = f"{'':<{width}}" + "".join(f"{label:>{column}}" for label, _ in columns)
    if report.echoes:
        header += f"{'gateway/echo':>{column}}"
    lines.append(header)

    def row(label: str, values: list[str], ratio: str = "") -> None:
        cells = "".join(f"{v:>{column}}" for v in values)
        lines.append((f"{label:<{width}}{cells}{ratio:>{column}}").rstrip())

    def pct(a: float, b: float) -> str:
        return f"{a / b:.0%}" if b else "-"

    row("server start-up (s)", [f"{s.startup_s:.1f}" for s in servers])
    row("connect N chargers (s)", [f"{s.connect_s:.2f}" for s in servers])
    row("RSS before connections (KiB)", [f"{s.rss_before_kib}" for s in servers])
    row("RSS with N idle chargers (KiB)", [f"{s.rss_idle_kib}" for s in servers])
    ratio = f"{report.memory_ratio:.2f}x" if report.memory_ratio is not None else ""
    row("RSS growth / N idle connections (KiB)", [f"{s.kib_per_connection:.1f}" for s in servers])
    row(
        "  the same, second half only (KiB)",
        [f"{s.marginal_kib_per_connection:.1f}" for s in servers],
    )
    row(
        "RSS per idle connection (larger, KiB)",
        [f"{s.kib_per_idle_connection:.1f}" for s in servers],
        ratio,
    )
    ratio = f"{report.throughput_ratio:.0%}" if report.throughput_ratio is not None else ""
    row("saturation: steady window (s)", [f"{s.saturation.window_s:.1f}" for s in servers])
    row("saturation: msg/s", [f"{s.saturation.msgs_per_s:.0f}" for s in servers], ratio)
    row(
        "saturation: p50 / p99 ack (ms)",
        [f"{s.saturation.p50_ms:.1f} / {s.saturation.p99_ms:.1f}" for s in servers],
    )
    row("saturation: CPU server / load / other", [_cpu_split(s.saturation) for s in servers])
    row(
        "saturation: server CPU loop / threads",
        [
            f"{_share(s.saturation.server_loop_cpu_s, s.saturation)} / "
            f"{_share(s.saturation.server_cpu_s - s.saturation.server_loop_cpu_s, s.saturation)}"
            for s in servers
        ],
    )
    row(
        "saturation: msg per server CPU-s",
        [f"{s.saturation.per_server_cpu_s:.0f}" for s in servers],
        f"{report.efficiency_ratio:.0%}" if report.efficiency_ratio is not None else "",
    )
    row("paced: msg/s", [f"{s.paced.msgs_per_s:.0f}" for s in servers])
    row(
        "paced: p50 / p99 ack (ms)",
        [f"{s.paced.p50_ms:.2f} / {s.paced.p99_ms:.2f}" for s in servers],
    )
    row("paced: max ack (ms)", [f"{s.paced.max_ms:.1f}" for s in servers])
    row("paced: CPU server / load / other", [_cpu_split(s.paced) for s in servers])
    row(
        "CALLERRORs / unanswered",
        [
            f"{sum(p.call_errors for p in (s.idle, s.saturation, s.paced))} / "
            f"{sum(p.unanswered for p in (s.idle, s.saturation, s.paced))}"
            for s in servers
        ],
    )
    g = report.gateway
    lines += ["", "gateway, saturation mix answered: " + _actions(g.saturation.by_action)]
    for label, s in columns:
        by_second = " ".join(str(n) for n in s.saturation.per_second)
        lines.append(f"{label}, saturation answers in each second: {by_second}")
    if g.server_stats:
        stats = ", ".join(f"{k}={v}" for k, v in g.server_stats.items())
        lines.append(f"gateway stored: {stats}")
    if len(report.echoes) > 1:
        lines.append("gateway/echo compares the gateway with the mean of the two echo runs")
    if report.own_work_ratio is not None:
        lines.append(
            "echo, gw socket: the echo on the gateway's websocket class; gateway / it, msg per "
            f"server CPU-s: {report.own_work_ratio:.0%} (the gateway's own work alone)"
        )
    lines += ["", "targets (2-core machine, gateway pinned to one core):"]
    if report.throughput_ratio is not None:
        lines.append(
            f"  mixed traffic >= {TARGET_RATIO:.0%} of echo msg/s: "
            f"{report.throughput_ratio:.0%} {_verdict(report.throughput_ratio >= TARGET_RATIO)}"
        )
    lines.append(
        f"  p99 ack < {TARGET_P99_MS:g} ms at {o.chargers} chargers x {o.rate:g} msg/s: "
        f"{g.paced.p99_ms:.1f} ms {_verdict(g.paced.p99_ms < TARGET_P99_MS)}"
    )
    worst = g.kib_per_idle_connection
    lines.append(
        f"  < {TARGET_KIB_PER_CONNECTION:g} KiB RSS per idle charger: "
        f"{worst:.1f} KiB {_verdict(worst < TARGET_KIB_PER_CONNECTION)}"
    )
    for label, s in columns:
        noise = s.saturation.other_cpu_s / s.saturation.seconds if s.saturation.seconds else 0
        if noise > NOISY_SHARE:
            lines.append(
                f"  warning: other processes used {noise:.0%} of a core while {label} was "
                "saturated; its msg/s is lower than this machine can do (msg per CPU-s holds)"
            )
        noise = s.paced.other_cpu_s / s.paced.seconds if s.paced.seconds else 0
        if noise > NOISY_SHARE:
            lines.append(
                f"  warning: other processes used {noise:.0%} of a core during {label}'s "
                "paced phase; its latencies are longer than on a quiet machine"
            )
        for error in s.log_errors:
            lines.append(f"  {label} log: {error}")
        for p in (s.idle, s.saturation, s.paced):
            for error in p.first_errors:
                lines.append(f"  {label} {p.name}: {error}")
    return "\n".join(lines)


def _cpu_split(phase: PhaseFigures) -> str:
    return (
        f"{phase.server_busy:.0%} / {_share(phase.load_cpu_s, phase)}"
        f" / {_share(phase.other_cpu_s, phase)}"
    )


def _share(cpu_s: float, phase: PhaseFigures) -> str:
    return f"{cpu_s / phase.seconds:.0%}" if phase.seconds else "-"


def _actions(by_action: dict[str, int]) -> str:
    total = sum(by_action.values()) or 1
    return ", ".join(
        f"{a} {n / total:.0%}" for a, n in sorted(by_action.items(), key=lambda x: -x[1])
    )
