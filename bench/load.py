"""Load generator: simulated chargers driven through the idle, saturation and paced phases."""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from bench.charger import SCRIPTS, Mix, Script, parse_mix
from bench.figures import BenchError, Options, PhaseFigures, percentile
from bench.server_process import CpuMeter, ServerProcess
from bench.site import charger_id
from bench.wire import HandshakeError, WsClient, open_client

HOST = "127.0.0.1"
CONNECT_CONCURRENCY = 64
CONNECT_TIMEOUT_S = 30.0
DRAIN_TIMEOUT_S = 30.0  # how long answers to messages sent before a deadline are awaited
SETTLE_S = 1.0  # pause before reading RSS, so the server has finished its own work


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
        try:
            frame = json.loads(text)
            kind, reply_id = frame[0], frame[1]
        except (ValueError, IndexError, KeyError, TypeError):
            if phase is not None:
                phase.tally.error(f"unreadable answer: {text[:200]}")
            return
        if kind == 2 and self.client is not None:
            # The gateway's own CALL (it asks for the local list version once a charger is
            # accepted): a real charger answers, or the gateway waits and retries.
            answer = self.script.answer(str(frame[2]))
            self.client.send_text(json.dumps([3, reply_id, answer]))
            return
        outstanding = self._outstanding
        if phase is None or outstanding is None:
            return
        message_id, action, due = outstanding
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
        self.started_at: float | None = None
        self._running: set[int] = set()
        self._done: asyncio.Future[None] = loop.create_future()

    def answered(self, charger: SimCharger, now: float) -> None:
        raise NotImplementedError

    def _begin(self, chargers: list[SimCharger]) -> list[SimCharger]:
        """The chargers still connected, now taking part in this phase."""
        self._done = self.loop.create_future()
        if self.started_at is None:
            self.started_at = self.loop.time()
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
        per_second = Counter(int(a[0] - (self.started_at or 0.0)) for a in t.answers)
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
            per_second=[per_second[i] for i in range(max(per_second, default=-1) + 1)],
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
        meter = CpuMeter(server)
        for group in (chargers[:half], chargers[half:]):
            connect_s += await connect_all(group, server.port)
            await boot.run(group)
            await asyncio.sleep(SETTLE_S)
            rss.append(server.rss_kib())
        idle = meter.apply(boot.figures())
        if profile:
            server.command("profile-start")
        meter = CpuMeter(server)
        saturation = meter.apply(await _Saturate(loop).run(chargers, options.duration_s))
        if profile:
            server.command("profile-stop")
        meter = CpuMeter(server)
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
