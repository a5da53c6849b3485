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
import json
import logging
import time
import uuid
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosed

from gateway.logs import fields
from gateway.metrics import Metrics
from gateway.ports import CommitFailedError, MessageRecord
from ocpp_central.handlers import HANDLERS, ChargerSession, Handler
from ocpp_central.translate import rpc
from ocpp_central.translate.rpc import ErrorCode
from ocpp_central.validation import InvalidPayload, Validator, Validators

log = logging.getLogger(__name__)

_REPLAY_MEMORY = 16  # recent answers kept to re-send when a charger repeats a message id


@dataclass(frozen=True, slots=True)
class CallTimedOut:
    """The charger did not answer a CALL in time."""

    action: str


Reply = rpc.CallResult | rpc.CallError | CallTimedOut

#: How many recent messages of each charger the operator pages can show.
JOURNAL_SIZE = 50


_Entry = tuple[datetime, str, str, str, str]  # a MessageRecord's fields, in order

# An action's label (metrics, journal), handler and compiled check; see `_route`.
_Route = tuple[str, Handler | None, Validator | None]
_Routes = dict[str, _Route]

#: The routes of each validator set and version, shared by all connections: a table per
#: connection would cost every idle charger memory for what is the same for all of them.
_SHARED_ROUTES: weakref.WeakKeyDictionary[Validators, dict[rpc.OcppVersion, _Routes]] = (
    weakref.WeakKeyDictionary()
)


def _routes_for(validators: Validators, version: rpc.OcppVersion) -> _Routes:
    return _SHARED_ROUTES.setdefault(validators, {}).setdefault(version, {})


class Journal:
    """The last `JOURNAL_SIZE` messages of one charger, oldest first.

    A list, not a bounded deque: a deque reserves room for 64 entries up front, and most
    of a site's chargers have said only a handful of things since they connected. Entries
    are kept as plain tuples and become `MessageRecord`s only when read: every message is
    written here, and building a frozen dataclass costs more than the rest of the entry.
    """

    __slots__ = ("_records",)

    def __init__(self) -> None:
        self._records: list[_Entry] = []

    def append(self, record: MessageRecord) -> None:
        self.note(record.at, record.direction, record.message_id, record.action, record.outcome)

    def note(
        self, at: datetime, direction: str, message_id: str, action: str, outcome: str
    ) -> None:
        """Append a message given by its fields (the hot path: no record is built)."""
        records = self._records
        records.append((at, direction, message_id, action, outcome))
        if len(records) > JOURNAL_SIZE:
            del records[0]

    def __iter__(self) -> Iterator[MessageRecord]:
        return (
            MessageRecord(at=at, direction=d, message_id=m, action=a, outcome=o)
            for at, d, m, a, o in self._records
        )

    def __len__(self) -> int:
        return len(self._records)


def new_journal() -> Journal:
    return Journal()


class ChargerConnection:
    """Runs the receive loop of one charger's websocket and its outbound CALLs."""

    # A site keeps thousands of these: no per-instance dict.
    __slots__ = (
        "_answered",
        "_call_lock",
        "_handlers",
        "_metrics",
        "_pending",
        "_routes",
        "_validators",
        "connected_at",
        "journal",
        "received",
        "session",
        "ws",
    )

    def __init__(
        self,
        ws: ServerConnection,
        session: ChargerSession,
        validators: Validators,
        *,
        journal: Journal | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.ws = ws
        self.session = session
        self._validators = validators
        self.journal = journal if journal is not None else new_journal()
        self._metrics = metrics or Metrics()
        self.connected_at = session.clock()
        self._handlers = HANDLERS[session.version]
        self._routes = _routes_for(validators, session.version)
        # Insertion-ordered: the first key is the oldest answer.
        self._answered: dict[str, str] = {}
        self._pending: dict[str, tuple[str, asyncio.Future[Reply]]] = {}
        self._call_lock: asyncio.Lock | None = None  # made on the first outbound CALL
        self.received = 0

    @property
    def version(self) -> rpc.OcppVersion:
        return self.session.version

    async def run(self) -> None:
        """Process frames until the charger goes away."""
        session, version = self.session, self.session.version
        try:
            async for raw in self.ws:
                self.received += 1
                session.last_message_at = session.clock()
                frame = rpc.decode(raw, version)
                # Nearly every frame is a CALL: straight to it, one coroutine fewer to resume.
                if type(frame) is rpc.Call:
                    await self._on_call(frame)
                else:
                    await self._on_frame(frame)
        except ConnectionClosed:
            pass
        finally:
            # Whoever waits on an answer learns now that none will come.
            for action, fut in self._pending.values():
                if not fut.done():
                    fut.set_result(CallTimedOut(action))

    async def _on_frame(self, frame: rpc.Frame | rpc.Malformed) -> None:
        """Any frame but a CALL (``run`` hands those to ``_on_call``)."""
        match frame:
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
        started = time.perf_counter()
        message_id = call.message_id
        session = self.session
        route = self._routes.get(call.action)
        if route is None:
            route = self._route(call.action)
        # Whatever a charger invents must not become a new metric series or a log novel.
        action, handler, check = route
        cached = self._answered.get(message_id)
        if cached is not None:
            # A repeated message id is a retransmission: answer it again, do not redo it.
            await self._send(cached)
            self._record("in", message_id, action, "repeat", started)
            return
        if log.isEnabledFor(logging.DEBUG):  # building the fields costs
            log.debug(
                "ocpp in",
                extra=fields(charger=session.charger_id, message_id=message_id[:36], action=action),
            )
        # The usual CALL (handled, valid, admitted) is checked and handled here, without the
        # frames of `_refusal`; anything refused goes there for its CALLERROR, and the
        # validator's `check_call` still decides what that CALLERROR says.
        handled: Handler | None = None
        if handler is not None and check is not None and not session.blocks(action):
            try:
                check(call.payload)
            except InvalidPayload:
                pass
            else:
                handled = handler
        if handled is None:
            reply = self._refusal(call, action != "unknown", handler)
            assert reply is not None  # noqa: S101 - refused above for the same reasons
            outcome = _outcome_of(reply)
        else:
            outcome = "ok"
            try:
                result = await handled(session, call.payload)
            except CommitFailedError:
                # Not stored: the charger must retry (DESIGN.md §2.1), so say so.
                reply = rpc.encode_error(
                    self.version, message_id, ErrorCode.INTERNAL_ERROR, "not stored; retry later"
                )
                outcome = _outcome_of(reply)
            except Exception:
                log.exception(
                    "handler failed charger=%s action=%s", session.charger_id, call.action
                )
                reply = rpc.encode_error(
                    self.version, message_id, ErrorCode.INTERNAL_ERROR, "internal error"
                )
                outcome = _outcome_of(reply)
            else:
                reply = rpc.encode_result(message_id, result)
        answered = self._answered
        answered[message_id] = reply
        if len(answered) > _REPLAY_MEMORY:
            del answered[next(iter(answered))]
        # `_send` and `_record` inlined: this runs for every message a charger sends.
        try:
            await self.ws.send(reply)
        except ConnectionClosed:
            log.info("charger %s went away before an answer", session.charger_id)
        at = session.last_message_at
        self.journal.note(
            session.clock() if at is None else at, "in", message_id[:36], action, outcome
        )
        elapsed = time.perf_counter() - started
        self._metrics.ocpp_call_answered(action, outcome, elapsed)
        if log.isEnabledFor(logging.DEBUG):
            self._log_answered("answered", message_id, action, outcome, elapsed)

    def _route(self, action: str) -> _Route:
        """How a CALL of `action` is handled: its label, handler and compiled schema check.

        Remembered, for every connection of this version, for the version's own actions
        only: a charger inventing names must not grow the table.
        """
        if not self._validators.knows(action):
            return ("unknown", None, None)
        route = (action, self._handlers.get(action), self._validators.call_check(action))
        self._routes[action] = route
        return route

    def _record(
        self, direction: str, message_id: str, action: str, outcome: str, started: float
    ) -> None:
        elapsed = time.perf_counter() - started
        # An inbound message is journalled at its arrival, read once when its frame came.
        at = self.session.last_message_at if direction == "in" else None
        if at is None:
            at = self.session.clock()
        self.journal.note(at, direction, message_id[:36], action, outcome)
        if direction == "in":
            self._metrics.ocpp_call_answered(action, outcome, elapsed)
        else:
            self._metrics.ocpp_message(direction, action, outcome)
        if log.isEnabledFor(logging.DEBUG):  # building the fields costs
            self._log_answered(
                "answered" if direction == "in" else "call answered",
                message_id,
                action,
                outcome,
                elapsed,
            )

    def _log_answered(
        self, what: str, message_id: str, action: str, outcome: str, elapsed: float
    ) -> None:
        log.debug(
            "ocpp %s",
            what,
            extra=fields(
                charger=self.session.charger_id,
                message_id=message_id[:36],
                action=action,
                outcome=outcome,
                ms=round(elapsed * 1000, 1),
            ),
        )

    def _refusal(self, call: rpc.Call, known: bool, handler: Handler | None) -> str | None:
        """The CALLERROR for a CALL that must not reach its handler; None when it may."""
        version, action = self.version, call.action
        if not known:
            return rpc.encode_error(
                version, call.message_id, ErrorCode.NOT_IMPLEMENTED, f"unknown action {action!r}"
            )
        if handler is None:
            return rpc.encode_error(
                version, call.message_id, ErrorCode.NOT_SUPPORTED, f"{action} is not supported"
            )
        # Meter lists are left to the meter translator (RELIABILITY.md §2.7 #8).
        violation = self._validators.check_call(action, call.payload)
        if violation is not None:
            return rpc.encode_error(version, call.message_id, violation.code, violation.description)
        if self.session.blocks(action):
            return rpc.encode_error(
                version,
                call.message_id,
                ErrorCode.SECURITY_ERROR,
                f"BootNotification was answered {self.session.boot_status}",
            )
        return None

    async def call(self, action: str, payload: dict[str, Any], *, timeout_s: float) -> Reply:
        """Send a CALL and wait for its answer; one outstanding CALL per connection.

        A fresh message id per CALL means an answer arriving after the timeout can never
        be taken for the answer to a later CALL (R-OCPP-ORD-2).
        """
        if self._call_lock is None:
            self._call_lock = asyncio.Lock()
        async with self._call_lock:
            message_id = str(uuid.uuid4())
            fut: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
            self._pending[message_id] = (action, fut)
            started = time.perf_counter()
            reply: Reply = CallTimedOut(action)
            if log.isEnabledFor(logging.DEBUG):  # building the fields costs
                log.debug(
                    "ocpp out",
                    extra=fields(
                        charger=self.session.charger_id, message_id=message_id, action=action
                    ),
                )
            try:
                await self._send(rpc.encode_call(message_id, action, payload))
                async with asyncio.timeout(timeout_s):
                    reply = await fut
            except TimeoutError:
                pass
            finally:
                self._pending.pop(message_id, None)
                self._record("out", message_id, action, _reply_outcome(reply), started)
            return reply

    async def _send(self, text: str) -> None:
        try:
            await self.ws.send(text)
        except ConnectionClosed:
            log.info("charger %s went away before an answer", self.session.charger_id)

    async def close(self, code: int = 1000, reason: str = "") -> None:
        await self.ws.close(code, reason)


def _outcome_of(encoded_reply: str) -> str:
    """``ok`` for a CALLRESULT, else the CALLERROR code (of the frame we just encoded)."""
    if encoded_reply.startswith("[3,"):
        return "ok"
    try:
        code = json.loads(encoded_reply)[2]
    except (ValueError, IndexError, TypeError):
        return "error"
    return code if isinstance(code, str) else "error"


def _reply_outcome(reply: Reply) -> str:
    match reply:
        case CallTimedOut():
            return "timeout"
        case rpc.CallError():
            # The charger's own spelling could be anything: only known codes become labels.
            return reply.error_code.value if reply.error_code is not None else "other"
    return "ok"
