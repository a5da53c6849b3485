"""Benchmark: StatusNotification -> OCPI PATCH latency, and draining a backlog after an outage.

``python -m bench.push_latency`` starts the gateway as its own process (``python -m
gateway serve``) with ``--chargers`` 1.6 chargers of ``--connectors`` EVSEs each, a
loopback eMSP in this process that registers through the credentials handshake, and
connects every charger over a websocket. Then:

1. latency: ``--events`` StatusNotifications (each to a different EVSE, ``--rate`` per
   second, spread over the chargers); for each, the time from the frame leaving the
   charger to the PATCH of that EVSE arriving at the eMSP (same clock: both ends are in
   this process). Target: p99 < 100 ms.
2. drain: the eMSP answers 503 while every EVSE changes status (one object each); then
   it comes back, and the time until the last PATCH arrives is measured. Target:
   >= 500 objects/s.

Everything is on loopback; every wait is bounded. Figures go to stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import io
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        assert isinstance(port, int)
        return port


def write_config(
    directory: Path, *, chargers: int, connectors: int, ocpp_port: int, http_port: int
) -> Path:
    """A site of ``chargers`` 1.6 chargers, ``connectors`` EVSEs each, 100 EVSEs a Location."""
    lines = [
        '[operator]\ncountry_code = "NL"\nparty_id = "CEG"\nname = "Bench CPO"\n',
        f'[ocpp]\nhost = "127.0.0.1"\nport = {ocpp_port}\ntrusted_network = true\n'
        "offline_grace_s = 3600\nping_interval_s = 600\n",
        f'[http]\nhost = "127.0.0.1"\nport = {http_port}\n'
        f'public_url = "http://127.0.0.1:{http_port}"\n',
        f'[storage]\ndata_dir = "{directory / "data"}"\n',
        "[ocpi]\nallow_private_partner_addresses = true\npartner_timeout_s = 5\n"
        "push_retry_initial_s = 0.2\npush_retry_max_s = 1.0\npush_sweep_s = 1.0\n",
        '[logging]\nlevel = "WARNING"\n',
    ]
    for c in range(chargers):
        lines.append(
            f'[[chargers]]\nid = "CP-{c:05d}"\nocpp_version = "1.6"\nsecurity_profile = 0\n'
        )
    evses = [(c, k) for c in range(chargers) for k in range(1, connectors + 1)]
    for start in range(0, len(evses), 100):
        n = start // 100
        lines.append(
            f'[[locations]]\nid = "LOC-{n:04d}"\naddress = "Street {n}"\ncity = "Utrecht"\n'
            'country = "NLD"\nlatitude = "52.089444"\nlongitude = "5.110278"\n'
            'time_zone = "Europe/Amsterdam"\n'
        )
        for c, k in evses[start : start + 100]:
            lines.append(
                f'  [[locations.evses]]\n  uid = "{uid(c, k)}"\n  charger = "CP-{c:05d}"\n'
                f'    [[locations.evses.connectors]]\n    id = "1"\n    ocpp_connector_id = {k}\n'
                '    standard = "IEC_62196_T2"\n    format = "SOCKET"\n'
                '    power_type = "AC_3_PHASE"\n    max_voltage = 230\n    max_amperage = 32\n'
                '    tariff_ids = ["AC"]\n'
            )
    lines.append(
        '[[tariffs]]\nid = "AC"\ncurrency = "EUR"\n  [[tariffs.elements]]\n'
        '    [[tariffs.elements.price_components]]\n    type = "ENERGY"\n    price = 0.30\n'
    )
    config = directory / "config.toml"
    config.write_text("\n".join(lines))
    return config


def uid(charger: int, connector: int) -> str:
    return f"CP-{charger:05d}-{connector}"


# --- the eMSP --------------------------------------------------------------------------


def envelope(data: Any = None) -> dict[str, Any]:
    body: dict[str, Any] = {"status_code": 1000, "timestamp": "2026-01-01T00:00:00Z"}
    if data is not None:
        body["data"] = data
    return body


class Emsp:
    """Answers the handshake, keeps the arrival time of every EVSE status it is sent."""

    def __init__(self, port: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.down = False
        self.arrivals: dict[tuple[str, str], float] = {}  # (evse uid, status) -> first arrival
        self.calls = 0
        self.app = Starlette(
            routes=[
                Route("/ocpi/emsp/versions", self.versions),
                Route("/ocpi/emsp/2.2.1", self.details),
                Route(
                    "/ocpi/emsp/2.2.1/locations/{path:path}",
                    self.locations,
                    methods=["PUT", "PATCH"],
                ),
            ]
        )

    async def versions(self, request: Request) -> Response:
        return JSONResponse(envelope([{"version": "2.2.1", "url": f"{self.url}/ocpi/emsp/2.2.1"}]))

    async def details(self, request: Request) -> Response:
        endpoints = [
            {
                "identifier": "credentials",
                "role": "SENDER",
                "url": f"{self.url}/ocpi/emsp/2.2.1/credentials",
            },
            {
                "identifier": "locations",
                "role": "RECEIVER",
                "url": f"{self.url}/ocpi/emsp/2.2.1/locations",
            },
        ]
        return JSONResponse(envelope({"version": "2.2.1", "endpoints": endpoints}))

    async def locations(self, request: Request) -> Response:
        now = time.time()
        self.calls += 1
        if self.down:
            return Response("maintenance", status_code=503)
        body = json.loads(await request.body())
        segments = request.path_params["path"].split("/")
        if len(segments) == 4:  # {cc}/{party}/{location}/{evse}: a PATCH (or PUT) of one EVSE
            self.arrivals.setdefault((segments[3], body["status"]), now)
        else:
            for evse in body.get("evses", []):
                self.arrivals.setdefault((evse["uid"], evse["status"]), now)
        return JSONResponse(envelope())


# --- chargers ----------------------------------------------------------------------------


#: What a charger answers to the gateway's own requests (anything else: Accepted).
ANSWERS: dict[str, dict[str, Any]] = {"GetLocalListVersion": {"listVersion": 0}}


class Charger:
    """A 1.6 charger: one CALL at a time, as OCPP-J requires; it answers the gateway's CALLs."""

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.n = 0
        self.lock = asyncio.Lock()
        self.waiting: dict[str, asyncio.Future[list[Any]]] = {}
        self.reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for text in self.ws:
                frame = json.loads(text)
                if frame[0] == 2:
                    answer = ANSWERS.get(frame[2], {"status": "Accepted"})
                    await self.ws.send(json.dumps([3, frame[1], answer]))
                elif (future := self.waiting.pop(frame[1], None)) is not None:
                    future.set_result(frame)

    async def call(
        self, action: str, payload: dict[str, Any], on_send: Callable[[], None] | None = None
    ) -> None:
        async with self.lock:
            self.n += 1
            message_id = f"m{self.n}"
            future = asyncio.get_running_loop().create_future()
            self.waiting[message_id] = future
            frame = json.dumps([2, message_id, action, payload])
            if on_send is not None:
                on_send()
            await self.ws.send(frame)
            async with asyncio.timeout(30):
                reply = await future
            if reply[0] != 3:
                raise RuntimeError(f"{action} answered {reply}")


async def status(
    cp: Charger, connector: int, state: str, on_send: Callable[[], None] | None = None
) -> None:
    await cp.call(
        "StatusNotification",
        {"connectorId": connector, "errorCode": "NoError", "status": state},
        on_send,
    )


# --- the run -----------------------------------------------------------------------------


async def wait_for(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    n_chargers: int = args.chargers
    n_connectors: int = args.connectors
    rate: float = args.rate
    directory = Path(tempfile.mkdtemp(prefix="push-bench-"))
    ocpp_port, http_port, emsp_port = free_port(), free_port(), free_port()
    config = write_config(
        directory,
        chargers=n_chargers,
        connectors=n_connectors,
        ocpp_port=ocpp_port,
        http_port=http_port,
    )
    emsp = Emsp(emsp_port)
    server = uvicorn.Server(
        uvicorn.Config(
            emsp.app, host="127.0.0.1", port=emsp_port, log_level="warning", access_log=False
        )
    )
    serving = asyncio.create_task(server.serve())
    log = (directory / "gateway.log").open("wb")
    profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
    gateway = subprocess.Popen(  # noqa: S603, ASYNC220 - our own module; starts at once
        [sys.executable, *profile, "-m", "gateway", "serve", "--config", str(config)],
        stdout=log,
        stderr=log,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    gw = f"http://127.0.0.1:{http_port}"
    chargers: list[Charger] = []
    sockets: list[Any] = []
    results: dict[str, Any] = {"chargers": n_chargers, "evses": n_chargers * n_connectors}
    try:
        async with httpx.AsyncClient(timeout=10) as http:

            async def gateway_up() -> bool:
                try:
                    return (await http.get(f"{gw}/healthz")).status_code == 200
                except httpx.TransportError:
                    if gateway.poll() is not None:
                        raise RuntimeError("the gateway exited; see " + str(directory)) from None
                    return False

            await wait_for(gateway_up, 120, "the gateway")
            token_a = await asyncio.to_thread(invite, config)
            credentials = {
                "token": "bench-emsp-token-b",
                "url": f"{emsp.url}/ocpi/emsp/versions",
                "roles": [
                    {
                        "role": "EMSP",
                        "business_details": {"name": "Bench eMSP"},
                        "party_id": "BEN",
                        "country_code": "DE",
                    }
                ],
            }
            auth = {"Authorization": "Token " + base64.b64encode(token_a.encode()).decode()}
            reply = await http.post(f"{gw}/ocpi/2.2.1/credentials", json=credentials, headers=auth)
            if reply.json().get("status_code") != 1000:
                raise RuntimeError(f"registration failed: {reply.text}")

            async def backlog() -> int:
                text = (await http.get(f"{gw}/metrics")).text
                return sum(
                    int(float(line.rsplit(" ", 1)[1]))
                    for line in text.splitlines()
                    if line.startswith("gateway_partner_backlog{")
                )

            async def locations_arrived() -> bool:
                return emsp.calls >= n_chargers * n_connectors // 100 and await backlog() == 0

            await wait_for(locations_arrived, 120, "the first Locations push")

            started = time.monotonic()
            for c in range(n_chargers):
                ctx = connect(
                    f"ws://127.0.0.1:{ocpp_port}/ocpp/CP-{c:05d}",
                    subprotocols=[Subprotocol("ocpp1.6")],
                    ping_interval=None,
                    max_queue=None,
                )
                ws = await ctx.__aenter__()
                sockets.append(ctx)
                chargers.append(Charger(ws))
            await asyncio.gather(
                *(
                    cp.call("BootNotification", {"chargePointVendor": "B", "chargePointModel": "M"})
                    for cp in chargers
                )
            )
            results["connect_s"] = round(time.monotonic() - started, 1)
            # A connecting charger gets the gateway's housekeeping (its local list version);
            # the latency is measured once that has settled.
            await asyncio.sleep(args.settle)

            # 1. latency: each event a different EVSE, spread over the chargers
            sent: dict[str, float] = {}
            targets = [
                (i % n_chargers, 1 + (i // n_chargers) % n_connectors) for i in range(args.events)
            ]

            async def one(c: int, k: int) -> None:
                def stamp() -> None:
                    sent[uid(c, k)] = time.time()

                await status(chargers[c], k, "Available", stamp)

            tasks = []
            phase = time.monotonic()
            for n, (c, k) in enumerate(targets):
                tasks.append(asyncio.create_task(one(c, k)))
                delay = (n + 1) / rate - (time.monotonic() - phase)
                if delay > 0:
                    await asyncio.sleep(delay)
            await asyncio.gather(*tasks)

            async def all_arrived() -> bool:
                return all((u, "AVAILABLE") in emsp.arrivals for u in sent)

            await wait_for(all_arrived, 120, "the status PATCHes")
            ordered = sorted(sent.items(), key=lambda kv: kv[1])
            latencies = [1000 * (emsp.arrivals[(u, "AVAILABLE")] - t) for u, t in ordered]
            results["latency_ms"] = {
                "events": len(latencies),
                "rate_per_s": rate,
                "p50": round(statistics.median(latencies), 1),
                "p99": round(percentile(latencies, 99), 1),
                "max": round(max(latencies), 1),
            }

            # 2. drain: every EVSE changes while the eMSP is down
            emsp.down = True
            changed = 0

            async def flip_all(c: int) -> None:
                nonlocal changed
                for k in range(1, n_connectors + 1):
                    await status(chargers[c], k, "Charging")
                    changed += 1

            await asyncio.gather(*(flip_all(c) for c in range(n_chargers)))

            async def queued() -> bool:
                return await backlog() >= n_chargers * n_connectors

            await wait_for(queued, 300, "the backlog to build up")
            objects = n_chargers * n_connectors
            emsp.down = False
            back = time.time()

            async def drained() -> bool:
                return sum(1 for (_, s) in emsp.arrivals if s == "CHARGING") >= objects

            await wait_for(drained, 600, "the backlog to drain")
            arrivals = sorted(t for (_, s), t in emsp.arrivals.items() if s == "CHARGING")
            results["drain"] = {
                "objects": objects,
                "since_partner_back_s": round(arrivals[-1] - back, 2),
                "objects_per_s": round(objects / (arrivals[-1] - back), 0),
                "first_to_last_s": round(arrivals[-1] - arrivals[0], 2),
                "objects_per_s_first_to_last": round(objects / (arrivals[-1] - arrivals[0]), 0),
            }
    finally:
        for cp in chargers:
            cp.reader.cancel()
        for ctx in sockets:
            with contextlib.suppress(Exception):
                await ctx.__aexit__(None, None, None)
        gateway.send_signal(signal.SIGTERM)
        try:
            gateway.wait(15)
        except subprocess.TimeoutExpired:
            gateway.kill()
            gateway.wait()
        log.close()
        server.should_exit = True
        await serving
    return results


def invite(config: Path) -> str:
    from gateway import cli

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        if cli.main(["partners", "invite", "bench", "--json", "--config", str(config)]) != 0:
            raise RuntimeError("cannot invite the bench eMSP")
    token = json.loads(out.getvalue())["token"]
    assert isinstance(token, str)
    return token


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.push_latency", description=__doc__)
    parser.add_argument("--chargers", type=int, default=1000)
    parser.add_argument("--connectors", type=int, default=10, help="EVSEs per charger")
    parser.add_argument("--events", type=int, default=2000, help="status changes timed")
    parser.add_argument("--rate", type=float, default=200.0, help="status changes per second")
    parser.add_argument("--profile", help="write a cProfile of the gateway's event loop here")
    parser.add_argument(
        "--settle", type=float, default=10.0, help="seconds between connecting and measuring"
    )
    args = parser.parse_args()
    results = asyncio.run(run(args))
    sys.stdout.write(json.dumps(results, indent=2) + "\n")
    latency, drain = results["latency_ms"], results["drain"]
    sys.stdout.write(
        f"p50 {latency['p50']} ms, p99 {latency['p99']} ms (target < 100) at "
        f"{args.chargers} chargers; drain {drain['objects']} objects at "
        f"{drain['objects_per_s']:.0f}/s (target >= 500)\n"
    )


if __name__ == "__main__":
    main()
