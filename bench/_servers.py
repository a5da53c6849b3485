"""Benchmark child process: the server under test, alone on one CPU core.

``python -m bench._servers echo|gateway [--config PATH] [--core N]`` starts either the
bare `websockets` + `json` echo server (parse the CALL, answer ``[3, id, {}]``, with the
gateway's websocket settings) or the real gateway from a config file, then talks to the
benchmark over its standard streams, one JSON line per answer on stdout:

* on start-up: ``{"event": "ready", "port": P, "startup_s": S}``;
* ``profile-start`` / ``profile-stop`` on stdin: cProfile on (CPU time per thread, the
  event loop and the executor threads that commit to SQLite), answered ``{"event": "ok"}``;
* ``stop`` or end of stdin: shut down, write the profile, answer ``{"event": "stopped"}``.

It also stops by itself after ``--max-seconds``, so a benchmark that died leaves nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import sys
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

P = ParamSpec("P")
T = TypeVar("T")

#: The websocket settings both servers use, as the gateway's listener sets them.
PING_INTERVAL_S = 30.0
MAX_FRAME_BYTES = 256 * 1024


def _emit(**fields: Any) -> None:
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


class Profiler:
    """cProfile over CPU time, for the loop thread, every executor thread and the writer."""

    def __init__(self) -> None:
        self.active = False
        self.used = False
        self._main = cProfile.Profile(time.thread_time)
        self._local = threading.local()
        self._threads: list[cProfile.Profile] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        self.active = self.used = True
        self._main.enable()

    def stop(self) -> None:
        self._main.disable()
        self.active = False

    def wrap(self, fn: Callable[P, T]) -> Callable[P, T]:
        def run(*args: P.args, **kwargs: P.kwargs) -> T:
            if not self.active:
                return fn(*args, **kwargs)
            profile = self._thread_profile()
            profile.enable()
            try:
                return fn(*args, **kwargs)
            finally:
                profile.disable()

        return run

    def _thread_profile(self) -> cProfile.Profile:
        profile: cProfile.Profile | None = getattr(self._local, "profile", None)
        if profile is None:
            profile = self._local.profile = cProfile.Profile(time.thread_time)
            with self._lock:
                self._threads.append(profile)
        return profile

    def dump(self, path: Path) -> None:
        stats = pstats.Stats(self._main)
        for profile in self._threads:
            stats.add(profile)
        stats.dump_stats(path)


class ProfilingExecutor(ThreadPoolExecutor):
    """The loop's default executor, profiling what it runs while the profiler is on."""

    def __init__(self, profiler: Profiler) -> None:
        super().__init__(thread_name_prefix="bench-executor")
        self._profiler = profiler

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        return super().submit(self._profiler.wrap(fn), *args, **kwargs)


async def _echo_server(
    *, gateway_socket: bool = False
) -> tuple[int, Callable[[], Any], Callable[[], Any]]:
    """The bare echo; ``gateway_socket``: on the gateway's own websocket connection class."""
    from websockets.asyncio.server import ServerConnection, serve
    from websockets.exceptions import ConnectionClosed
    from websockets.typing import Subprotocol

    from ocpp_central.websocket import ChargerSocket

    answered = 0

    async def echo(ws: ServerConnection) -> None:
        nonlocal answered
        try:
            async for raw in ws:
                call = json.loads(raw)
                await ws.send(json.dumps([3, call[1], {}]))
                answered += 1
        except ConnectionClosed:
            pass

    server = await serve(
        echo,
        "127.0.0.1",
        0,
        subprotocols=[Subprotocol(p) for p in ("ocpp1.6", "ocpp2.0.1", "ocpp2.1")],
        ping_interval=PING_INTERVAL_S,
        ping_timeout=PING_INTERVAL_S,
        max_size=MAX_FRAME_BYTES,
        max_queue=16,
        compression=None,
        create_connection=ChargerSocket if gateway_socket else None,
    )
    port = next(iter(server.sockets)).getsockname()[1]

    async def stop() -> None:
        server.close(close_connections=True)
        await server.wait_closed()

    return port, stop, lambda: {"answered": answered}


async def _gateway_server(
    config: Path, profiler: Profiler | None = None
) -> tuple[int, Callable[[], Any], Callable[[], Any]]:
    from gateway import logs
    from gateway.app import Gateway
    from gateway.config import load_settings
    from gateway.runtime import GroupCommitter
    from ocpp_central.handlers import HANDLERS
    from ocpp_central.server import OUTBOUND_ACTIONS, validators_for
    from ocpp_central.translate.rpc import OcppVersion

    settings = load_settings(config)
    logs.configure(settings.logging.level, settings.logging.format)
    # The gateway compiles schemas in a background thread; done here, first, that work
    # neither competes with the load for this core nor lands in the idle RSS figure.
    for version in OcppVersion:
        validators_for(version).warm([*HANDLERS[version], *OUTBOUND_ACTIONS])
    if profiler is not None:
        # The commits run on the runtime's own writer thread, not in the executor.
        GroupCommitter._write = profiler.wrap(GroupCommitter._write)  # type: ignore[method-assign]
    gateway = Gateway(settings)
    await gateway.start()

    async def stop() -> None:
        await gateway.stop()

    return gateway.ocpp.port, stop, lambda: {"commit_batches": gateway.runtime.commit_batches}


async def _serve(args: argparse.Namespace) -> int:
    started = time.monotonic()
    profiler = Profiler() if args.profile else None
    loop = asyncio.get_running_loop()
    if profiler is not None:
        loop.set_default_executor(ProfilingExecutor(profiler))
    if args.kind == "echo":
        port, stop, stats = await _echo_server()
    elif args.kind == "echo-socket":
        port, stop, stats = await _echo_server(gateway_socket=True)
    else:
        port, stop, stats = await _gateway_server(args.config, profiler)
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    _emit(event="ready", port=port, pid=os.getpid(), startup_s=time.monotonic() - started)
    deadline = started + args.max_seconds
    try:
        while True:
            async with asyncio.timeout_at(loop.time() + max(0.0, deadline - time.monotonic())):
                line = (await reader.readline()).decode().strip()
            if line in ("", "stop"):
                break
            if line == "profile-start" and profiler is not None:
                profiler.start()
            elif line == "profile-stop" and profiler is not None:
                profiler.stop()
            _emit(event="ok", command=line)
    except TimeoutError:
        sys.stderr.write(f"bench server: no stop after {args.max_seconds:.0f} s; stopping\n")
    if profiler is not None and profiler.active:
        profiler.stop()
    await stop()
    if profiler is not None and profiler.used:
        profiler.dump(args.profile)
    _emit(event="stopped", **stats())
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench._servers")
    parser.add_argument("kind", choices=["echo", "echo-socket", "gateway"])
    parser.add_argument("--config", type=Path, help="the gateway's config.toml")
    parser.add_argument("--core", type=int, default=None, help="pin this process to one CPU")
    parser.add_argument("--profile", type=Path, default=None, help="write a cProfile file here")
    parser.add_argument("--max-seconds", type=float, default=1800.0)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    if args.kind == "gateway" and args.config is None:
        sys.stderr.write("the gateway needs --config\n")
        return 2
    if args.core is not None:
        # Before any thread exists, so the executor threads (SQLite commits) share the core.
        os.sched_setaffinity(0, {args.core})
    return asyncio.run(_serve(args))


if __name__ == "__main__":
    sys.exit(main())
