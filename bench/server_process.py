"""Benchmark, parent side of the server child: start it, ask it, watch its CPU and RSS, stop it."""

from __future__ import annotations

import contextlib
import json
import os
import re
import select
import sqlite3
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench.figures import BenchError, PhaseFigures

SERVER_CORE = 0


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


class CpuMeter:
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


def logged_errors(log: Path, limit: int = 5) -> list[str]:
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


def stored_rows(workdir: Path) -> dict[str, int]:
    """Rows the gateway stored: evidence that the messages were committed, not just acked."""
    database = workdir / "data" / "gateway.db"
    if not database.exists():
        return {}

    tables = ("charger", "meter_sample", "transaction", "charger_note", "outbox")
    with contextlib.closing(sqlite3.connect(database)) as db:
        return {
            f"rows_{t}": int(db.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0])  # noqa: S608
            for t in tables
        }
