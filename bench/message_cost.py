"""Benchmark: the gateway's own CPU per OCPP message, without sockets.

``python -m bench.message_cost [--chargers 200] [--messages 20000] [--profile FILE]``
starts the real gateway in this process (the generated benchmark site, a SQLite file,
the OCPI side and its listeners) and hands each simulated charger's frames straight to
the connection handler through an in-memory stand-in for the websocket: the same
handshake result, handlers, validation, runtime, group commit and writer thread as under
``bench.ocpp_load``, minus the websocket framing and the kernel. Each charger sends its
next message when the previous one is answered, as chargers do, and answers the
gateway's own CALLs.

It prints process CPU per message, split into the event loop and the writer thread (the
simulated chargers' own work is timed and left out); the figure to compare between
versions of the code is "gateway CPU per message", which does not move with other load
on the machine the way messages per second would. Under ``bench.ocpp_load`` the
websocket side adds what the bare echo server spends.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench._servers import Profiler, ProfilingExecutor
from bench.charger import DEFAULT_MIX, SCRIPTS, Script, parse_mix
from bench.site import charger_id, write_site

#: CPU seconds the stand-in chargers spent reading answers and writing their next CALL.
_STAND_IN = [0.0]


class _Socket:
    """What ``OcppServer`` reads from a websocket connection, in memory."""

    def __init__(
        self, script: Script, ident: str, messages: int, version: str, settings: Any
    ) -> None:
        self.charger_id = ident
        self.charger_settings = settings
        self.subprotocol = version
        self.request = self.response = None
        self.transport = self
        self._script = script
        self._inbox: asyncio.Queue[str | None] = asyncio.Queue()
        self._left = messages
        self._ids = 0
        self._waiting: dict[str, str] = {}
        self.answered = 0
        self.errors = 0  # CALLERRORs: none is expected
        self.done = asyncio.get_running_loop().create_future()
        self._call(script.boot())

    # --- what the gateway reads --------------------------------------------------

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default

    def __aiter__(self) -> _Socket:
        return self

    async def __anext__(self) -> str:
        frame = await self._inbox.get()
        if frame is None:
            raise StopAsyncIteration
        return frame

    async def send(self, text: str) -> None:
        # The simulated charger's own work is timed, to be taken out of the gateway's.
        started = time.thread_time()
        try:
            self._on_answer(text)
        finally:
            _STAND_IN[0] += time.thread_time() - started

    def _on_answer(self, text: str) -> None:
        frame = json.loads(text)
        if frame[0] == 2:  # the gateway's own CALL: the charger accepts
            self._inbox.put_nowait(json.dumps([3, frame[1], self._script.answer(frame[2])]))
            return
        action = self._waiting.pop(frame[1], "")
        if frame[0] == 3:
            self._script.on_result(action, frame[2])
        else:
            self.errors += 1
        self.answered += 1
        if self.answered == 1:
            self._call(self._script.status())
        elif self._left > 0:
            self._left -= 1
            self._call(self._script.next_call())
        else:
            self._inbox.put_nowait(None)
            if not self.done.done():
                self.done.set_result(None)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        self._inbox.put_nowait(None)

    def _call(self, call: tuple[str, str]) -> None:
        action, payload = call
        self._ids += 1
        message_id = f"m{self._ids}"
        self._waiting[message_id] = action
        self._inbox.put_nowait(f'[2,"{message_id}","{action}",{payload}]')


class _WriterClock:
    """CPU seconds the group-commit writer thread spent committing."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._lock = threading.Lock()

    def wrap(self, write: Any) -> Any:
        def timed(committer: Any, changes: Any) -> Any:
            started = time.thread_time()
            try:
                return write(committer, changes)
            finally:
                with self._lock:
                    self.seconds += time.thread_time() - started

        return timed


async def _run(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    from gateway import logs
    from gateway.app import Gateway
    from gateway.config import load_settings
    from gateway.runtime import GroupCommitter
    from ocpp_central.handlers import HANDLERS
    from ocpp_central.server import OUTBOUND_ACTIONS, validators_for
    from ocpp_central.translate.rpc import OcppVersion

    settings = load_settings(write_site(workdir, args.chargers, args.version))
    logs.configure("WARNING", "text")
    for version in OcppVersion:
        validators_for(version).warm([*HANDLERS[version], *OUTBOUND_ACTIONS])
    # The same profiler as bench.ocpp_load: the loop, the executor threads, the writer.
    profiler = Profiler() if args.profile else None
    if profiler is not None:
        asyncio.get_running_loop().set_default_executor(ProfilingExecutor(profiler))
    writer = _WriterClock()
    original = GroupCommitter._write
    timed = writer.wrap(original)
    GroupCommitter._write = (  # type: ignore[method-assign]
        timed if profiler is None else profiler.wrap(timed)
    )
    gateway = Gateway(settings)
    await gateway.start()
    try:
        rng = random.Random(args.seed)
        mix = parse_mix(args.mix)
        per_charger = args.messages // args.chargers
        script_of = SCRIPTS[args.version]
        sockets = []
        for i in range(args.chargers):
            ident = charger_id(i)
            script = script_of(ident, mix, random.Random(rng.random()))
            sockets.append(
                _Socket(script, ident, per_charger, script.version, settings.charger(ident))
            )
        server = gateway.ocpp
        cpu, thread, wall = time.process_time(), time.thread_time(), time.perf_counter()
        writer.seconds = _STAND_IN[0] = 0.0
        if profiler is not None:
            profiler.start()
        tasks = [
            asyncio.ensure_future(server._handle(s))  # type: ignore[arg-type]
            for s in sockets
        ]
        finished: asyncio.Future[Any] = asyncio.gather(*(s.done for s in sockets))
        await asyncio.wait([finished, *tasks], return_when=asyncio.FIRST_EXCEPTION)
        for task in tasks:
            if task.done() and task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        if profiler is not None:
            profiler.stop()
        cpu, thread = time.process_time() - cpu, time.thread_time() - thread
        wall = time.perf_counter() - wall
        written, stand_in = writer.seconds, _STAND_IN[0]
        await asyncio.gather(*tasks)
    finally:
        await gateway.stop()
        GroupCommitter._write = original  # type: ignore[method-assign]
    messages = sum(s.answered for s in sockets)
    if profiler is not None:
        profiler.dump(args.profile)
    return {
        "messages": messages,
        "call_errors": sum(s.errors for s in sockets),
        "wall_s": wall,
        "cpu_us_per_msg": (cpu - stand_in) / messages * 1e6,
        "loop_us_per_msg": (thread - stand_in) / messages * 1e6,
        "stand_in_us_per_msg": stand_in / messages * 1e6,
        "writer_us_per_msg": written / messages * 1e6,
        "batches": gateway.runtime.commit_batches,
    }


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench.message_cost", description=__doc__)
    parser.add_argument("--chargers", type=int, default=200)
    parser.add_argument("--messages", type=int, default=20_000, help="in all, after boot")
    parser.add_argument("--mix", default=DEFAULT_MIX)
    parser.add_argument("--version", choices=sorted(SCRIPTS), default="1.6")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best is reported")
    parser.add_argument("--profile", type=Path, default=None, help="cProfile the last run")
    parser.add_argument("--json", action="store_true")
    return parser


def measure(args: argparse.Namespace, workdir: Path) -> dict[str, float]:
    """One run in ``workdir``: its figures."""
    return asyncio.run(_run(args, workdir))


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    profile = args.profile
    runs = []
    for i in range(args.repeat):
        args.profile = profile if i == args.repeat - 1 else None
        with tempfile.TemporaryDirectory(prefix="message-cost-") as tmp:
            runs.append(measure(args, Path(tmp)))
    best = min(runs, key=lambda r: r["cpu_us_per_msg"])
    if args.json:
        print(json.dumps({"best": best, "runs": runs}))
        return 0
    print(f"{args.chargers} chargers, {best['messages']:.0f} messages, OCPP {args.version}")
    print(
        "runs (gateway CPU µs per message):", " ".join(f"{r['cpu_us_per_msg']:.0f}" for r in runs)
    )
    print(f"gateway CPU per message (best): {best['cpu_us_per_msg']:.0f} µs")
    print(
        f"  event loop: {best['loop_us_per_msg']:.0f} µs, writer thread: "
        f"{best['writer_us_per_msg']:.0f} µs, messages per commit: "
        f"{best['messages'] / max(best['batches'], 1):.1f}"
    )
    print(
        f"  (the simulated chargers' own {best['stand_in_us_per_msg']:.0f} µs per message "
        "are left out)"
    )
    if profile is not None:
        from bench.profiles import summary

        print(summary(profile, 25))
    return 0


if __name__ == "__main__":
    sys.exit(main())
