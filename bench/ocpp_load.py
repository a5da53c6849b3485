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
Python websockets on the machine at hand; the figure that counts is gateway / echo. The
echo runs before and after the gateway, and the ratios use the mean of its two runs: a
VM's speed drifts within minutes, and a gap between the two echo columns shows it.
Every loop here is bounded in time and count, and nothing leaves loopback.

Modules: `bench.load` (simulated chargers and the phases), `bench.charger` (what a
charger says), `bench.wire` (its websocket), `bench.site` (the gateway's generated
config), `bench.server_process` / `bench._servers` (the server child, both sides),
`bench.figures` (results and the table), `bench.profiles` (``--profile`` summary).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from bench import profiles
from bench.charger import SCRIPTS, parse_mix
from bench.figures import BenchError, Options, Report, ServerFigures, render
from bench.load import drive
from bench.server_process import SERVER_CORE, ServerProcess, logged_errors, stored_rows
from bench.site import write_site

FDS_PER_CHARGER = 1
FDS_SPARE = 256


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
        log_errors=logged_errors(server.log_path),
        server=kind,
        chargers=options.chargers,
        startup_s=round(server.startup_s, 3),
        server_stats=stats | stored_rows(workdir),
        **raw,
    )


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
    """The whole benchmark: echo server, gateway, echo again, echo on the gateway's socket.

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
        echo_after = echo_socket = None
        if not skip_echo:
            # Again after the gateway: the ratios use the mean of both (see `Report`).
            echo_after = run_server(
                "echo", options, workdir=_fresh(workdir / "echo-after"), core=server_core
            )
            # The echo on the gateway's own websocket class: what the gateway spends beyond
            # reading and answering frames, with its faster frame path taken out.
            echo_socket = run_server(
                "echo-socket", options, workdir=_fresh(workdir / "echo-socket"), core=server_core
            )
    return Report(
        options=options,
        cpus=len(cpus),
        server_core=server_core,
        load_cores=load_cores,
        echo=echo,
        gateway=gateway,
        echo_after=echo_after,
        echo_socket=echo_socket,
    )


def _fresh(directory: Path) -> Path:
    if directory.exists() and any(directory.iterdir()):
        raise BenchError(f"{directory} is not empty: the benchmark wants a fresh database")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


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
    servers = (report.echo, report.gateway, report.echo_after, report.echo_socket)
    clean = all(s.clean for s in servers if s is not None)
    return 0 if clean else 1


if __name__ == "__main__":
    sys.exit(main())
