"""A headless Chromium driven over the DevTools protocol (websocket), for page tests.

Only what the tests need: open a page, run an expression, wait for a condition, set the
viewport, take a PNG screenshot. Chromium is Debian's ``chromium`` package; when it is
missing, ``find_chromium`` returns ``None`` and the tests skip with the reason.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import json
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from websockets.asyncio.client import ClientConnection, connect

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
    "--remote-allow-origins=*",
)


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


class PageError(AssertionError):
    """The page did not get where the test expected."""


class Page:
    """One tab, reached through a flattened DevTools session."""

    def __init__(self, ws: ClientConnection, session_id: str) -> None:
        self._ws = ws
        self._session = session_id
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for text in self._ws:
                msg = json.loads(text)
                fut = self._waiting.pop(msg.get("id", -1), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)

    async def send(self, method: str, *, session: bool = True, **params: Any) -> dict[str, Any]:
        ident = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[ident] = fut
        msg: dict[str, Any] = {"id": ident, "method": method, "params": params}
        if session:
            msg["sessionId"] = self._session
        await self._ws.send(json.dumps(msg))
        reply = await asyncio.wait_for(fut, 20)
        if "error" in reply:
            raise PageError(f"{method}: {reply['error']}")
        result: dict[str, Any] = reply.get("result", {})
        return result

    async def evaluate(self, expression: str) -> Any:
        reply = await self.send(
            "Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in reply:
            raise PageError(f"{expression}: {reply['exceptionDetails']}")
        return reply.get("result", {}).get("value")

    async def goto(self, url: str) -> None:
        await self.send("Page.navigate", url=url)
        await self.wait_for("document.readyState === 'complete' && location.href !== 'about:blank'")

    async def wait_for(self, expression: str, *, timeout_s: float = 10) -> Any:
        """Poll ``expression`` until it is truthy; its value is returned."""
        value: Any = None
        for _ in range(int(timeout_s / 0.1)):
            with contextlib.suppress(PageError):
                value = await self.evaluate(expression)
                if value:
                    return value
            await asyncio.sleep(0.1)
        url = await self.evaluate("location.href")
        raise PageError(f"not reached in {timeout_s} s: {expression} (at {url}, last {value!r})")

    async def viewport(self, width: int, height: int, *, mobile: bool = False) -> None:
        await self.send(
            "Emulation.setDeviceMetricsOverride",
            width=width,
            height=height,
            deviceScaleFactor=2 if mobile else 1,
            mobile=mobile,
        )

    async def screenshot(self, path: Path, *, full_page: bool = True) -> Path:
        params: dict[str, Any] = {"format": "png", "captureBeyondViewport": full_page}
        if full_page:
            size = await self.evaluate(
                "[document.documentElement.scrollWidth, document.documentElement.scrollHeight]"
            )
            params["clip"] = {"x": 0, "y": 0, "width": size[0], "height": size[1], "scale": 1}
        shot = await self.send("Page.captureScreenshot", **params)
        await asyncio.to_thread(_write, path, base64.b64decode(shot["data"]))
        return path

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@contextlib.asynccontextmanager
async def chromium(binary: str) -> AsyncIterator[Page]:
    """Start Chromium with a fresh profile; yield one page; always stop it again."""
    # Chromium's helper processes may still touch the profile while they exit.
    with tempfile.TemporaryDirectory(prefix="chromium-", ignore_cleanup_errors=True) as profile:
        proc = await asyncio.create_subprocess_exec(
            binary,
            *FLAGS,
            f"--user-data-dir={profile}",
            "about:blank",
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stopped whole, helpers included
        )
        try:
            port_file = Path(profile) / "DevToolsActivePort"
            for _ in range(300):
                if port_file.exists() and len(port_file.read_text().splitlines()) >= 2:
                    break
                if proc.returncode is not None:
                    raise PageError(f"chromium exited with {proc.returncode}")
                await asyncio.sleep(0.05)
            else:
                raise PageError("chromium did not open its DevTools port")
            port, path = port_file.read_text().splitlines()[:2]
            async with connect(f"ws://127.0.0.1:{port}{path}", max_size=64 * 2**20) as ws:
                bootstrap = Page(ws, "")
                target = await bootstrap.send(
                    "Target.createTarget", session=False, url="about:blank"
                )
                attached = await bootstrap.send(
                    "Target.attachToTarget",
                    session=False,
                    targetId=target["targetId"],
                    flatten=True,
                )
                await bootstrap.close()
                page = Page(ws, attached["sessionId"])
                await page.send("Page.enable")
                await page.send("Runtime.enable")
                try:
                    yield page
                finally:
                    await page.close()
        finally:
            await _stop(proc)


async def _stop(proc: asyncio.subprocess.Process) -> None:
    """Stop Chromium and every helper it started (they share its process group)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, sig)
        try:
            await asyncio.wait_for(proc.wait(), 5)
        except TimeoutError:
            continue
        return
