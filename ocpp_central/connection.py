"""Adapter: one websocket connection to one charger; frames in, handlers, frames out.

Inbound CALLs are processed one at a time, in order: OCPP-J lets a charger have one CALL
outstanding, and in-order processing keeps transaction messages in the order the
charger queued them. Because the next frame is not read until the current CALL is
answered, a charger that floods the gateway only slows itself down (TCP back-pressure);
other chargers are unaffected. Answers to the gateway's own CALLs are matched as they
arrive.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from gateway.ports import CommitFailedError
from ocpp_central.handlers import HANDLERS, ChargerSession
from ocpp_central.translate import rpc
from ocpp_central.translate.rpc import ErrorCode
from ocpp_central.validation import Validators, Violation

log = logging.getLogger(__name__)

_REPLAY_MEMORY = 16  # recent answers kept to re-send when a charger repeats a message id

#: Where meter data sits in each transaction message. One bad sampled value must not cost
#: the whole message (RELIABILITY.md §2.7 #8): the meter translator drops it and records
#: why, so schema violations inside these lists do not reject the CALL.
_METER_LISTS = {
    "MeterValues": "meterValue",
    "StopTransaction": "transactionData",
    "TransactionEvent": "meterValue",
}
_PLACEHOLDER_SAMPLE = {
    rpc.OcppVersion.V16: {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": "0"}]},
    rpc.OcppVersion.V201: {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": 0}]},
    rpc.OcppVersion.V21: {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": 0}]},
}


@dataclass(frozen=True, slots=True)
class CallTimedOut:
    """The charger did not answer a CALL in time."""

    action: str


Reply = rpc.CallResult | rpc.CallError | CallTimedOut


class ChargerConnection:
    """Runs the receive loop of one charger's websocket and its outbound CALLs."""

    def __init__(
        self, ws: ServerConnection, session: ChargerSession, validators: Validators
    ) -> None:
        self.ws = ws
        self.session = session
        self._validators = validators
        self._handlers = HANDLERS[session.version]
        self._answered: OrderedDict[str, str] = OrderedDict()
        self._pending: dict[str, tuple[str, asyncio.Future[Reply]]] = {}
        self._call_lock = asyncio.Lock()
        self.received = 0

    @property
    def version(self) -> rpc.OcppVersion:
        return self.session.version

    async def run(self) -> None:
        """Process frames until the charger goes away."""
        try:
            async for raw in self.ws:
                self.received += 1
                self.session.last_message_at = self.session.clock()
                await self._on_frame(raw)
        except ConnectionClosed:
            pass
        finally:
            # Whoever waits on an answer learns now that none will come.
            for action, fut in self._pending.values():
                if not fut.done():
                    fut.set_result(CallTimedOut(action))

    async def _on_frame(self, raw: str | bytes) -> None:
        frame = rpc.decode(raw, self.version)
        match frame:
            case rpc.Call():
                await self._on_call(frame)
            case rpc.CallResult() | rpc.CallError():
                _, fut = self._pending.get(frame.message_id, ("", None))
                if fut is None or fut.done():
                    log.info(
                        "late or unknown answer charger=%s message_id=%s",
                        self.session.charger_id,
                        frame.message_id,
                    )
                else:
                    fut.set_result(frame)
            case rpc.Malformed(reply=reply, reason=reason):
                log.warning("malformed frame charger=%s reason=%s", self.session.charger_id, reason)
                if reply is not None:
                    await self._send(reply)
            case _:
                log.info("frame ignored charger=%s type=%s", self.session.charger_id, type(frame))

    async def _on_call(self, call: rpc.Call) -> None:
        cached = self._answered.get(call.message_id)
        if cached is not None:
            # A repeated message id is a retransmission: answer it again, do not redo it.
            await self._send(cached)
            return
        reply = await self._answer(call)
        self._answered[call.message_id] = reply
        if len(self._answered) > _REPLAY_MEMORY:
            self._answered.popitem(last=False)
        await self._send(reply)

    async def _answer(self, call: rpc.Call) -> str:
        version, action = self.version, call.action
        log.debug(
            "ocpp in charger=%s message_id=%s action=%s",
            self.session.charger_id,
            call.message_id,
            action,
        )
        if not self._validators.knows(action):
            return rpc.encode_error(
                version, call.message_id, ErrorCode.NOT_IMPLEMENTED, f"unknown action {action!r}"
            )
        handler = self._handlers.get(action)
        if handler is None:
            return rpc.encode_error(
                version, call.message_id, ErrorCode.NOT_SUPPORTED, f"{action} is not supported"
            )
        violation = self._check(action, call.payload)
        if violation is not None:
            return rpc.encode_error(version, call.message_id, violation.code, violation.description)
        if self.session.blocks(action):
            return rpc.encode_error(
                version,
                call.message_id,
                ErrorCode.SECURITY_ERROR,
                f"BootNotification was answered {self.session.boot_status}",
            )
        try:
            result = await handler(self.session, call.payload)
        except CommitFailedError:
            # Not stored: the charger must retry (DESIGN.md §2.1), so say so.
            return rpc.encode_error(
                version, call.message_id, ErrorCode.INTERNAL_ERROR, "not stored; retry later"
            )
        except Exception:
            log.exception("handler failed charger=%s action=%s", self.session.charger_id, action)
            return rpc.encode_error(
                version, call.message_id, ErrorCode.INTERNAL_ERROR, "internal error"
            )
        return rpc.encode_result(call.message_id, result)

    def _check(self, action: str, payload: dict[str, Any]) -> Violation | None:
        violation = self._validators.check_request(action, payload)
        meter_list = _METER_LISTS.get(action)
        if violation is None or meter_list is None or violation.path[:1] != (meter_list,):
            return violation
        # The rest of the message must still be valid: check it with well-formed meter data.
        stand_in = {**payload, meter_list: [_PLACEHOLDER_SAMPLE[self.version]]}
        return self._validators.check_request(action, stand_in)

    async def call(self, action: str, payload: dict[str, Any], *, timeout_s: float) -> Reply:
        """Send a CALL and wait for its answer; one outstanding CALL per connection.

        A fresh message id per CALL means an answer arriving after the timeout can never
        be taken for the answer to a later CALL (R-OCPP-ORD-2).
        """
        async with self._call_lock:
            message_id = str(uuid.uuid4())
            fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
            self._pending[message_id] = (action, fut)
            try:
                await self._send(rpc.encode_call(message_id, action, payload))
                async with asyncio.timeout(timeout_s):
                    return await fut
            except TimeoutError:
                return CallTimedOut(action)
            finally:
                self._pending.pop(message_id, None)

    async def _send(self, text: str) -> None:
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            log.info("charger %s went away before an answer", self.session.charger_id)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)
