"""A simulated charger: sends CALLs, answers the gateway's CALLs as scripted, records all."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.typing import Subprotocol

Answer = (
    dict[str, Any]
    | Callable[[dict[str, Any]], dict[str, Any] | Awaitable[dict[str, Any]]]
    | str
    | None
)


class SimCharger:
    """Scripted OCPP-J peer.

    ``answers[action]`` is the CALLRESULT payload (or a function of the request payload,
    possibly async: the charger answers once it returns);
    ``"silent"`` never answers, ``("error", code)`` style strings ``"error:Code"`` answer a
    CALLERROR. Unscripted actions are answered ``{"status": "Accepted"}``.
    """

    def __init__(self, ws: ClientConnection) -> None:
        self.ws = ws
        self.answers: dict[str, Answer] = {}
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.raw_in: list[Any] = []
        self._pending: dict[str, asyncio.Future[list[Any]]] = {}
        self._n = 0
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        with contextlib.suppress(Exception):
            async for text in self.ws:
                frame = json.loads(text)
                self.raw_in.append(frame)
                if frame[0] == 2:
                    await self._answer(frame)
                elif frame[1] in self._pending:
                    self._pending.pop(frame[1]).set_result(frame)

    async def _answer(self, frame: list[Any]) -> None:
        _, message_id, action, payload = frame
        self.received.append((action, payload))
        answer = self.answers.get(action, {"status": "Accepted"})
        if answer == "silent":
            return
        if isinstance(answer, str) and answer.startswith("error:"):
            await self.ws.send(json.dumps([4, message_id, answer[6:], "refused", {}]))
            return
        result = answer(payload) if callable(answer) else answer
        if inspect.isawaitable(result):  # an answer that waits for something first
            result = await result
        await self.ws.send(json.dumps([3, message_id, result]))

    async def call(
        self, action: str, payload: dict[str, Any], *, timeout_s: float = 5
    ) -> list[Any]:
        """Send a CALL; return the whole answer frame ([3, id, payload] or [4, id, ...])."""
        self._n += 1
        message_id = f"m{self._n}"
        return await self.send_raw(
            json.dumps([2, message_id, action, payload]), message_id, timeout_s=timeout_s
        )

    async def send_raw(
        self, text: str, expect_id: str | None, *, timeout_s: float = 5
    ) -> list[Any]:
        """Send any text; wait for the answer with ``expect_id`` (or the next frame)."""
        fut: asyncio.Future[list[Any]] = asyncio.get_running_loop().create_future()
        self._pending[expect_id or "-1"] = fut
        await self.ws.send(text)
        return await asyncio.wait_for(fut, timeout_s)

    async def expect_silence(self, text: str, seconds: float = 0.3) -> None:
        """Send ``text`` and assert that nothing comes back."""
        before = len(self.raw_in)
        await self.ws.send(text)
        await asyncio.sleep(seconds)
        assert self.raw_in[before:] == []

    async def close(self) -> None:
        await self.ws.close()
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def sim_charger(
    url: str, version: str = "ocpp1.6", **kwargs: Any
) -> AsyncIterator[SimCharger]:
    async with connect(url, subprotocols=[Subprotocol(version)], **kwargs) as ws:
        sim = SimCharger(ws)
        try:
            yield sim
        finally:
            await sim.close()


async def wait_until(predicate: Callable[[], bool], timeout_s: float = 5) -> None:
    """Poll ``predicate`` until true (bounded)."""
    for _ in range(int(timeout_s / 0.01)):
        if predicate():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition not reached in time")
