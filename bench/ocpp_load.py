"""OCPP load benchmark: N simulated chargers against the gateway and a bare echo server.

Run ``python -m bench.ocpp_load`` (``--help`` lists the knobs; ``--quick`` is a short
run). Each server runs in a child process pinned to CPU 0 (`bench._servers`); the load
generator runs here, on the other CPUs, over loopback. For each server, in order:

1. idle: N chargers connect, boot and report their connector; the server's RSS before
   and after gives KiB per idle connection;
2. saturation: every charger sends its next message as soon as the previous one is
   answered, for D seconds: sustained messages/s, and the latency that load costs;
3. paced: every charger sends R messages/s (staggered) for D seconds: p50/p99 ack
   latency, measured from when each message was due, so a late send counts against
   the server (no coordinated omission).

The echo server (parse the CALL, answer ``[3, id, {}]``) is the physical limit of
Python websockets on the machine at hand; the figure that counts is gateway / echo.
Every loop here is bounded in time and count, and nothing leaves loopback.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import resource
import select
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from bench import profiles
from bench.charger import DEFAULT_MIX, SCRIPTS, Mix, Script, format_mix, parse_mix
from bench.site import charger_id, write_site
from bench.wire import HandshakeError, WsClient, open_client

HOST = "127.0.0.1"
SERVER_CORE = 0
CONNECT_CONCURRENCY = 64
CONNECT_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 30.0  # how long answers to messages sent before a deadline are awaited
SETTLE_S = 1.0  # pause before reading RSS, so the server has finished its own work
FDS_PER_CHARGER = 1
FDS_SPARE = 256

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
    """Both servers' figures and the ratios that count."""

    options: Options
    cpus: int
    server_core: int | None
    load_cores: list[int] | None
    echo: ServerFigures | None
    gateway: ServerFigures

    @property
    def throughput_ratio(self) -> float | None:
        if self.echo is None or not self.echo.saturation.msgs_per_s:
            return None
        return self.gateway.saturation.msgs_per_s / self.echo.saturation.msgs_per_s

    @property
    def efficiency_ratio(self) -> float | None:
        """Gateway / echo messages per CPU-second of the server: robust to a busy machine."""
        if self.echo is None or not self.echo.saturation.server_cpu_s:
            return None
        echo, gateway = self.echo.saturation.per_server_cpu_s, self.gateway.saturation
        return gateway.per_server_cpu_s / echo if gateway.server_cpu_s else None

    @property
    def memory_ratio(self) -> float | None:
        if self.echo is None or self.echo.kib_per_idle_connection <= 0:
            return None
        return self.gateway.kib_per_idle_connection / self.echo.kib_per_idle_connection

    def as_dict(self) -> dict[str, Any]:
        doc = asdict(self)
        for server in (self.echo, self.gateway):
            if server is None:
                continue
            entry = doc[server.server]
            entry["kib_per_idle_connection"] = server.kib_per_idle_connection
            for phase in (server.idle, server.saturation, server.paced):
                entry[phase.name]["server_busy"] = round(phase.server_busy, 3)
                entry[phase.name]["per_server_cpu_s"] = round(phase.per_server_cpu_s, 1)
        doc["ratios"] = {
            "gateway_over_echo_msgs_per_s": self.throughput_ratio,
            "gateway_over_echo_kib_per_connection": self.memory_ratio,
            "gateway_over_echo_msgs_per_server_cpu_s": self.efficiency_ratio,
        }
        return doc


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (0 for none)."""
    if not sorted_values:
        return 0.0
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values) + 0.5)))
    return sorted_values[rank - 1]


# --- the server under test, in its own process -----------------------------------------


class ServerProcess:
    """A `bench._servers` child: started, asked things over a pipe, stopped."""

    def __init__(
        self,
        kind: str,
        *,
        workdir: Path,
        config: Path | None = None,
        core: int | None = SERVER_CORE,
        profile: Path | None = None,
        timeout_s: float = 120.0,
    ) -> None:
        command = [sys.executable, "-m", "bench._servers", kind]
        if config is not None:
            command += ["--config", str(config)]
        if core is not None:
            command += ["--core", str(core)]
        if profile is not None:
            command += ["--profile", str(profile)]
        self.log_path = workdir / f"{kind}.log"
        self._log = self.log_path.open("wb")
        self._pending = b""
        root = Path(__file__).resolve().parents[1]
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(root), os.environ.get("PYTHONPATH")])),
        }
        self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and module
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            cwd=workdir,
            env=env,
        )
        ready = self._read(timeout_s)
        if ready.get("event") != "ready":
            self.kill()
            raise BenchError(f"{kind} server did not start: {ready}; see {self.log_path}")
        self.port: int = ready["port"]
        self.startup_s: float = ready["startup_s"]

    def cpu_s(self) -> float:
        """CPU time (user + system) the server process has used so far, seconds."""
        return _cpu_s(Path(f"/proc/{self.proc.pid}/stat"))

    def loop_cpu_s(self) -> float:
        """The same for its main thread alone: the event loop (the rest is executor threads)."""
        return _cpu_s(Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/stat"))

    def rss_kib(self) -> int:
        """Resident set size of the server process (VmRSS), KiB."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        for line in status.splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
        raise BenchError("VmRSS not found in /proc/<pid>/status (is this Linux?)")

    def command(self, line: str, timeout_s: float = 10.0) -> dict[str, Any]:
        self._write(line)
        return self._read(timeout_s)

    def stop(self, timeout_s: float = 60.0) -> dict[str, Any]:
        """Ask the server to stop; returns its final statistics."""
        try:
            self._write("stop")
            answer = self._read(timeout_s)
            self.proc.wait(timeout=timeout_s)
        except (BenchError, OSError, subprocess.TimeoutExpired):
            self.kill()
            raise
        self._release()
        answer.pop("event", None)
        return answer

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._release()

    def _release(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout, self._log):
            if stream is not None and not stream.closed:
                stream.close()

    def _write(self, line: str) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.write(line.encode() + b"\n")
        self.proc.stdin.flush()

    def _read(self, timeout_s: float) -> dict[str, Any]:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        deadline = time.monotonic() + timeout_s
        while b"\n" not in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BenchError(f"the server did not answer in {timeout_s:.0f} s")
            readable, _, _ = select.select([fd], [], [], remaining)
            if readable:
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise BenchError(f"the server exited; see {self.log_path}")
                self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        answer: dict[str, Any] = json.loads(line)
        return answer


# --- the load generator -------------------------------------------------------------


@dataclass(slots=True)
class _Tally:
    """Counts and latencies of one phase, filled in by the chargers' callbacks."""

    sent: int = 0
    answered: int = 0
    call_errors: int = 0
    unanswered_lost: int = 0  # CALLs whose connection went away before the answer
    answers: list[tuple[float, float, str]] = field(default_factory=list)  # at, latency, action
    first_errors: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        if len(self.first_errors) < 5:
            self.first_errors.append(text)


class SimCharger:
    """One simulated charger: one connection, one outstanding CALL at a time (OCPP-J)."""

    def __init__(self, index: int, script: Script, loop: asyncio.AbstractEventLoop) -> None:
        self.index = index
        self.script = script
        self._loop = loop
        self.client: WsClient | None = None
        self._counter = 0
        self._outstanding: tuple[str, str, float] | None = None  # (message id, action, t0)
        self.phase: _Phase | None = None
        self.lost: str | None = None

    async def connect(self, port: int) -> None:
        self.client = await open_client(
            HOST,
            port,
            f"/ocpp/{self.script.charger_id}",
            self.script.version,
            on_text=self._on_text,
            on_lost=self._on_lost,
            timeout_s=CONNECT_TIMEOUT_S,
        )

    @property
    def busy(self) -> bool:
        return self._outstanding is not None

    def forget(self) -> bool:
        """Stop waiting for the outstanding answer; whether there was one."""
        waiting = self._outstanding is not None
        self._outstanding = None
        return waiting

    def call(self, action: str, payload: str, due: float) -> None:
        """Send one CALL; ``due`` is when it should have left (the latency's start)."""
        assert self._outstanding is None
        assert self.client is not None
        assert self.phase is not None
        self._counter += 1
        message_id = str(self._counter)
        self._outstanding = (message_id, action, due)
        self.phase.tally.sent += 1
        self.client.send_text(f'[2,"{message_id}","{action}",{payload}]')

    def _on_text(self, text: str) -> None:
        now = self._loop.time()
        phase = self.phase
        outstanding = self._outstanding
        if phase is None or outstanding is None:
            return  # nothing asked: a server CALL; the benchmark sends none, so none come
        message_id, action, due = outstanding
        try:
            frame = json.loads(text)
            kind, reply_id = frame[0], frame[1]
        except (ValueError, IndexError, KeyError, TypeError):
            phase.tally.error(f"unreadable answer: {text[:200]}")
            return
        if reply_id != message_id:
            phase.tally.error(f"answer to {reply_id!r} while waiting for {message_id!r}")
            return
        self._outstanding = None
        tally = phase.tally
        if kind == 3:
            tally.answered += 1
            tally.answers.append((now, now - due, action))
            self.script.on_result(action, frame[2])
        else:
            tally.call_errors += 1
            tally.error(f"{action}: {text[:300]}")
        phase.answered(self, now)

    def _on_lost(self, reason: str) -> None:
        self.lost = reason
        if self.phase is not None:
            self.phase.tally.error(f"{self.script.charger_id}: {reason}")
            self.phase.gone(self)


class _Phase:
    """Drives chargers through one phase and waits, bounded, for them to finish.

    A phase may be run on several groups of chargers in turn (the idle phase connects
    and boots the chargers in two halves); its tally covers them all.
    """

    def __init__(self, name: str, loop: asyncio.AbstractEventLoop) -> None:
        self.name = name
        self.loop = loop
        self.tally = _Tally()
        self.seconds = 0.0
        self.unanswered = 0
        self._running: set[int] = set()
        self._done: asyncio.Future[None] = loop.create_future()

    def answered(self, charger: SimCharger, now: float) -> None:
        raise NotImplementedError

    def _begin(self, chargers: list[SimCharger]) -> list[SimCharger]:
        """The chargers still connected, now taking part in this phase."""
        self._done = self.loop.create_future()
        live = [c for c in chargers if c.lost is None]
        for charger in live:
            charger.phase = self
            self._running.add(charger.index)
        return live

    def gone(self, charger: SimCharger) -> None:
        """The charger's connection is gone: it sends nothing more in this phase."""
        if charger.forget():
            self.tally.unanswered_lost += 1
        self._finished(charger)

    def _finished(self, charger: SimCharger) -> None:
        self._running.discard(charger.index)
        if not self._running and not self._done.done():
            self._done.set_result(None)

    async def _wait(self, chargers: list[SimCharger], started: float, timeout_s: float) -> None:
        """Wait until every charger has finished, or ``timeout_s``; count what is missing."""
        if not self._running and not self._done.done():
            self._done.set_result(None)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._done), timeout_s)
        self._running.clear()
        for charger in chargers:
            charger.phase = None
            self.unanswered += charger.forget()
        self.seconds += self.loop.time() - started

    def figures(self, window: tuple[float, float] | None = None) -> PhaseFigures:
        """The phase's figures; throughput and latencies count the answers in ``window``.

        Without a window every answer counts, over the phase's whole duration.
        """
        t = self.tally
        if window is None:
            counted, window_s = t.answers, self.seconds
        else:
            start, end = window
            counted, window_s = [a for a in t.answers if start <= a[0] <= end], end - start
        latencies = sorted(a[1] for a in counted)
        return PhaseFigures(
            name=self.name,
            seconds=round(self.seconds, 3),
            window_s=round(window_s, 3),
            sent=t.sent,
            answered=t.answered,
            in_window=len(counted),
            call_errors=t.call_errors,
            unanswered=self.unanswered + t.unanswered_lost,
            msgs_per_s=round(len(counted) / window_s, 1) if window_s > 0 else 0.0,
            p50_ms=round(percentile(latencies, 0.50) * 1000, 3),
            p99_ms=round(percentile(latencies, 0.99) * 1000, 3),
            max_ms=round(latencies[-1] * 1000, 3) if latencies else 0.0,
            by_action=dict(sorted(Counter(a[2] for a in counted).items())),
            first_errors=list(t.first_errors),
        )


class _Boot(_Phase):
    """Each charger boots and reports its connector, one message after the other."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__("idle", loop)
        self._queues: dict[int, list[tuple[str, str]]] = {}

    async def run(self, chargers: list[SimCharger]) -> None:
        started = self.loop.time()
        for charger in self._begin(chargers):
            self._queues[charger.index] = [charger.script.boot(), charger.script.status()]
            self._send_next(charger, started)
        await self._wait(chargers, started, DRAIN_TIMEOUT_S)

    def _send_next(self, charger: SimCharger, now: float) -> None:
        queue = self._queues[charger.index]
        if not queue:
            self._finished(charger)
            return
        action, payload = queue.pop(0)
        charger.call(action, payload, now)

    def answered(self, charger: SimCharger, now: float) -> None:
        self._send_next(charger, now)


class _Saturate(_Phase):
    """Each charger sends its next message as soon as the last one is answered.

    All chargers start at once, so the first round is a burst; throughput and latency
    are counted from the moment every charger has had its first answer (the queue is in
    its steady state), or from half-time if that takes longer.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__("saturation", loop)
        self._end = 0.0
        self._first_round: set[int] = set()
        self._steady_from: float | None = None

    async def run(self, chargers: list[SimCharger], duration_s: float) -> PhaseFigures:
        started = self.loop.time()
        self._end = started + duration_s
        live = self._begin(chargers)
        self._first_round = {c.index for c in live}
        for charger in live:
            charger.call(*charger.script.next_call(), started)
        await self._wait(chargers, started, duration_s + DRAIN_TIMEOUT_S)
        half_time = started + duration_s / 2
        steady_from = min(half_time, self._steady_from or half_time)
        return self.figures((steady_from, self._end))

    def answered(self, charger: SimCharger, now: float) -> None:
        if self._first_round:
            self._first_round.discard(charger.index)
            if not self._first_round:
                self._steady_from = now
        if now < self._end:
            charger.call(*charger.script.next_call(), now)
        else:
            self._finished(charger)


class _Paced(_Phase):
    """Each charger sends ``rate`` messages per second, staggered across the first period."""

    def __init__(self, loop: asyncio.AbstractEventLoop, rate: float) -> None:
        super().__init__("paced", loop)
        self._period = 1.0 / rate
        self._end = 0.0
        self._due: dict[int, float] = {}
        self._handles: list[asyncio.TimerHandle] = []

    async def run(self, chargers: list[SimCharger], duration_s: float) -> PhaseFigures:
        started = self.loop.time() + 0.1
        self._end = started + duration_s
        live = self._begin(chargers)
        for n, charger in enumerate(live):
            self._schedule(charger, started + self._period * n / len(live))
        await self._wait(chargers, self.loop.time(), duration_s + DRAIN_TIMEOUT_S + 1)
        for handle in self._handles:
            handle.cancel()
        self._handles.clear()
        # Messages were due until the end; answers to the last ones may come after it.
        last = max((a[0] for a in self.tally.answers), default=self._end)
        return self.figures((started, max(self._end, last)))

    def _schedule(self, charger: SimCharger, due: float) -> None:
        if due >= self._end:
            self._finished(charger)
            return
        self._due[charger.index] = due
        if due <= self.loop.time():
            self._fire(charger)  # late: the server's delay shows in the latency
        else:
            self._handles.append(self.loop.call_at(due, self._fire, charger))

    def _fire(self, charger: SimCharger) -> None:
        if charger.phase is self and not charger.busy:
            charger.call(*charger.script.next_call(), self._due[charger.index])

    def answered(self, charger: SimCharger, now: float) -> None:
        self._schedule(charger, self._due[charger.index] + self._period)


def machine_busy_s() -> float:
    """CPU time every core of the machine has spent busy since boot, seconds."""
    first = Path("/proc/stat").read_text().splitlines()[0].split()
    ticks = [int(x) for x in first[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)
    return (sum(ticks[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _cpu_s(stat_file: Path) -> float:
    stat = stat_file.read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _CpuMeter:
    """Splits the machine's CPU time during a phase into server, load generator and rest."""

    def __init__(self, server: ServerProcess) -> None:
        self._server = server
        self._start = (server.cpu_s(), time.process_time(), machine_busy_s())
        self._loop0 = server.loop_cpu_s()

    def apply(self, figures: PhaseFigures) -> PhaseFigures:
        server0, load0, busy0 = self._start
        loop = self._server.loop_cpu_s() - self._loop0
        server = self._server.cpu_s() - server0
        load = time.process_time() - load0
        other = max(0.0, machine_busy_s() - busy0 - server - load)
        return replace(
            figures,
            server_cpu_s=round(server, 2),
            server_loop_cpu_s=round(loop, 2),
            load_cpu_s=round(load, 2),
            other_cpu_s=round(other, 2),
        )


def make_chargers(options: Options, loop: asyncio.AbstractEventLoop) -> list[SimCharger]:
    mix: Mix = parse_mix(options.mix)
    script_type = SCRIPTS[options.version]
    return [
        SimCharger(
            i, script_type(charger_id(i), mix, random.Random(options.seed * 1_000_003 + i)), loop
        )
        for i in range(options.chargers)
    ]


async def connect_all(chargers: list[SimCharger], port: int) -> float:
    """Open every charger's connection, ``CONNECT_CONCURRENCY`` at a time; seconds taken."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    gate = asyncio.Semaphore(CONNECT_CONCURRENCY)

    async def one(charger: SimCharger) -> None:
        async with gate:
            await charger.connect(port)

    results = await asyncio.gather(*(one(c) for c in chargers), return_exceptions=True)
    failures = [
        (c, r) for c, r in zip(chargers, results, strict=True) if isinstance(r, BaseException)
    ]
    if failures:
        charger, exc = failures[0]
        for c in chargers:
            if c.client is not None:
                c.client.abort()
        reason = exc if isinstance(exc, HandshakeError | OSError) else repr(exc)
        raise BenchError(
            f"{len(failures)} of {len(chargers)} chargers could not connect; "
            f"{charger.script.charger_id}: {reason}"
        )
    return loop.time() - started


async def close_all(chargers: list[SimCharger], timeout_s: float = 10.0) -> None:
    for charger in chargers:
        if charger.client is not None:
            charger.client.close()
    waiting = [c.client.closed for c in chargers if c.client is not None]
    if waiting:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.gather(*waiting), timeout_s)
    for charger in chargers:
        if charger.client is not None and not charger.client.closed.done():
            charger.client.abort()


async def drive(
    server: ServerProcess, options: Options, *, profile: bool = False
) -> dict[str, Any]:
    """Run the three phases against a started server; the raw figures, by name."""
    loop = asyncio.get_running_loop()
    chargers = make_chargers(options, loop)
    half = len(chargers) // 2
    await asyncio.sleep(SETTLE_S / 2)
    rss = [server.rss_kib()]
    connect_s = 0.0
    try:
        # Two halves: the second half's growth is the marginal cost of a connection,
        # free of whatever slack the freshly started process had (freed start-up memory).
        boot = _Boot(loop)
        meter = _CpuMeter(server)
        for group in (chargers[:half], chargers[half:]):
            connect_s += await connect_all(group, server.port)
            await boot.run(group)
            await asyncio.sleep(SETTLE_S)
            rss.append(server.rss_kib())
        idle = meter.apply(boot.figures())
        if profile:
            server.command("profile-start")
        meter = _CpuMeter(server)
        saturation = meter.apply(await _Saturate(loop).run(chargers, options.duration_s))
        if profile:
            server.command("profile-stop")
        meter = _CpuMeter(server)
        paced = meter.apply(await _Paced(loop, options.rate).run(chargers, options.duration_s))
    finally:
        await close_all(chargers)
    second_half = len(chargers) - half
    return {
        "connect_s": round(connect_s, 3),
        "rss_before_kib": rss[0],
        "rss_idle_kib": rss[2],
        "kib_per_connection": round((rss[2] - rss[0]) / len(chargers), 2),
        "marginal_kib_per_connection": round((rss[2] - rss[1]) / second_half, 2),
        "idle": idle,
        "saturation": saturation,
        "paced": paced,
    }


def run_server(
    kind: str,
    options: Options,
    *,
    workdir: Path,
    core: int | None = SERVER_CORE,
    profile: Path | None = None,
) -> ServerFigures:
    """Start one server in a child process, load it, stop it: its figures."""
    config = write_site(workdir, options.chargers, options.version) if kind == "gateway" else None
    server = ServerProcess(kind, workdir=workdir, config=config, core=core, profile=profile)
    try:
        raw = asyncio.run(drive(server, options, profile=profile is not None))
    except BaseException:
        server.kill()
        raise
    stats = server.stop()
    return ServerFigures(
        log_errors=_logged_errors(server.log_path),
        server=kind,
        chargers=options.chargers,
        startup_s=round(server.startup_s, 3),
        server_stats=stats | _stored_rows(workdir),
        **raw,
    )


def _logged_errors(log: Path, limit: int = 5) -> list[str]:
    """The first errors in a server's log: the message and the exception's last line."""
    found: list[str] = []
    with log.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if "level=error" not in line and not line.startswith("Traceback"):
                continue
            message = re.search(r"msg='([^']*)'", line)
            causes = [c for c in line.split("\\n") if re.match(r"[\w.]+(Error|Exception)\b", c)]
            text = message.group(1) if message else line.strip()
            found.append((f"{text}: {causes[-1]}" if causes else text)[:300])
            if len(found) == limit:
                break
    return found


def _stored_rows(workdir: Path) -> dict[str, int]:
    """Rows the gateway stored: evidence that the messages were committed, not just acked."""
    database = workdir / "data" / "gateway.db"
    if not database.exists():
        return {}
    import sqlite3

    tables = ("charger", "meter_sample", "transaction", "charger_note", "outbox")
    with contextlib.closing(sqlite3.connect(database)) as db:
        return {
            f"rows_{t}": int(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])  # noqa: S608
            for t in tables
        }


# --- machine limits -----------------------------------------------------------------


def raise_fd_limit(chargers: int) -> int:
    """Make room for one socket per charger (the server child inherits the limit)."""
    needed = chargers * FDS_PER_CHARGER + FDS_SPARE
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < needed:
        if hard != resource.RLIM_INFINITY and hard < needed:
            raise BenchError(
                f"{chargers} chargers need about {needed} open files per process; this "
                f"machine allows {hard} (ulimit -Hn). Lower --chargers or raise the hard limit."
            )
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))
        soft = needed
    ports = Path("/proc/sys/net/ipv4/ip_local_port_range")
    if ports.exists():
        low, high = (int(x) for x in ports.read_text().split())
        if chargers > high - low:
            raise BenchError(
                f"{chargers} chargers need as many local ports; this machine has "
                f"{high - low + 1} ({ports}). Lower --chargers."
            )
    return int(soft)


@contextlib.contextmanager
def pinned_load(cpus: set[int]) -> Iterator[list[int] | None]:
    """Run the load generator off the server's core, when there is another one."""
    if len(cpus) < 2 or SERVER_CORE not in cpus:
        yield None
        return
    before = os.sched_getaffinity(0)
    others = cpus - {SERVER_CORE}
    os.sched_setaffinity(0, others)
    try:
        yield sorted(others)
    finally:
        os.sched_setaffinity(0, before)


def run(
    options: Options,
    *,
    skip_echo: bool = False,
    profile: Path | None = None,
    workdir: Path | None = None,
) -> Report:
    """The whole benchmark: echo server first (unless skipped), then the gateway.

    Each server works in a directory of its own under ``workdir`` (config, SQLite file,
    log), kept afterwards; without ``workdir`` a temporary directory is used and removed.
    """
    if options.chargers < 1 or options.duration_s <= 0 or options.rate <= 0:
        raise BenchError("chargers, duration and rate must be positive")
    if options.version not in SCRIPTS:
        raise BenchError(f"OCPP version must be one of {', '.join(SCRIPTS)}")
    parse_mix(options.mix)
    raise_fd_limit(options.chargers)
    cpus = os.sched_getaffinity(0)
    server_core = SERVER_CORE if SERVER_CORE in cpus else None
    with contextlib.ExitStack() as stack:
        load_cores = stack.enter_context(pinned_load(cpus))
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ocpp-bench-")))
        echo = None
        if not skip_echo:
            echo = run_server("echo", options, workdir=_fresh(workdir / "echo"), core=server_core)
        gateway = run_server(
            "gateway",
            options,
            workdir=_fresh(workdir / "gateway"),
            core=server_core,
            profile=profile,
        )
    return Report(
        options=options,
        cpus=len(cpus),
        server_core=server_core,
        load_cores=load_cores,
        echo=echo,
        gateway=gateway,
    )


def _fresh(directory: Path) -> Path:
    if directory.exists() and any(directory.iterdir()):
        raise BenchError(f"{directory} is not empty: the benchmark wants a fresh database")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


# --- output ---------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def render(report: Report) -> str:
    """The report as a table for people."""
    o = report.options
    mix = format_mix(parse_mix(o.mix))
    servers = [s for s in (report.echo, report.gateway) if s is not None]
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
    header = f"{'':<{width}}" + "".join(f"{s.server:>{column}}" for s in servers)
    if report.echo is not None:
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
    row(
        "saturation: CPU server / load / other",
        [
            f"{s.saturation.server_busy:.0%} / {_share(s.saturation.load_cpu_s, s.saturation)}"
            f" / {_share(s.saturation.other_cpu_s, s.saturation)}"
            for s in servers
        ],
    )
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
    if g.server_stats:
        stats = ", ".join(f"{k}={v}" for k, v in g.server_stats.items())
        lines.append(f"gateway stored: {stats}")
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
    for s in servers:
        noise = s.saturation.other_cpu_s / s.saturation.seconds if s.saturation.seconds else 0
        if noise > NOISY_SHARE:
            lines.append(
                f"  warning: other processes used {noise:.0%} of a core while {s.server} was "
                "saturated; its msg/s is lower than this machine can do (msg per CPU-s holds)"
            )
        for error in s.log_errors:
            lines.append(f"  {s.server} log: {error}")
        for p in (s.idle, s.saturation, s.paced):
            for error in p.first_errors:
                lines.append(f"  {s.server} {p.name}: {error}")
    return "\n".join(lines)


def _share(cpu_s: float, phase: PhaseFigures) -> str:
    return f"{cpu_s / phase.seconds:.0%}" if phase.seconds else "-"


def _actions(by_action: dict[str, int]) -> str:
    total = sum(by_action.values()) or 1
    return ", ".join(
        f"{a} {n / total:.0%}" for a, n in sorted(by_action.items(), key=lambda x: -x[1])
    )


# --- command line -----------------------------------------------------------------------


def _parser() -> argparse.ArgumentParser:
    defaults = Options()
    parser = argparse.ArgumentParser(
        prog="python -m bench.ocpp_load",
        description="OCPP load benchmark: the gateway against a bare websockets echo server.",
    )
    parser.add_argument(
        "--chargers", type=int, default=None, help=f"N (default {defaults.chargers})"
    )
    parser.add_argument(
        "--duration",
        type=float,
        default=None,
        help=f"seconds per phase (default {defaults.duration_s:g})",
    )
    parser.add_argument(
        "--rate", type=float, default=defaults.rate, help="paced phase: msg/s per charger"
    )
    parser.add_argument(
        "--mix",
        default=defaults.mix,
        help=f"kind=weight,... of status, meter, heartbeat, tx (default {defaults.mix})",
    )
    parser.add_argument("--version", choices=sorted(SCRIPTS), default=defaults.version)
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--quick", action="store_true", help="N=100, 3 s per phase")
    parser.add_argument("--skip-echo", action="store_true", help="measure the gateway only")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument(
        "--workdir",
        type=Path,
        default=None,
        help="keep each server's config, database and log here (default: a temporary dir)",
    )
    parser.add_argument(
        "--profile",
        type=Path,
        default=None,
        help="cProfile the gateway during the saturation phase into this .prof file",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    quick = Options(chargers=100, duration_s=3.0)
    base = quick if args.quick else Options()
    options = Options(
        chargers=args.chargers if args.chargers is not None else base.chargers,
        duration_s=args.duration if args.duration is not None else base.duration_s,
        rate=args.rate,
        mix=args.mix,
        version=args.version,
        seed=args.seed,
    )
    profile = args.profile.resolve() if args.profile is not None else None
    try:
        report = run(options, skip_echo=args.skip_echo, profile=profile, workdir=args.workdir)
    except (BenchError, ValueError) as exc:
        print(f"ocpp_load: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(report.as_dict(), indent=2))
    else:
        print(render(report))
    if profile is not None:
        print(f"\nprofile written to {profile} (figures above are slowed by profiling)\n")
        print(profiles.summary(profile))
    clean = report.gateway.clean and (report.echo is None or report.echo.clean)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
