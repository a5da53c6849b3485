"""Load generator, transport: a websocket client that costs the load generator little CPU.

The opening handshake is the `websockets` sans-I/O ``ClientProtocol`` (request, accept
key, subprotocol); after it, frames are written and read here directly on an asyncio
``Protocol``: no task, future or queue per message. The reason is arithmetic: on a
2-core machine the load generator has one core, and the `websockets` asyncio client
spends about as much CPU per message as the server under test, so it would cap the echo
server's figure (the yardstick) and flatter every ratio. Frames sent are masked with a
fresh key each (RFC 6455 §5.3); frames received are single unfragmented text frames,
which is all an OCPP-J server sends; pings are answered.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

from websockets.client import ClientProtocol
from websockets.exceptions import InvalidStatus
from websockets.frames import Frame
from websockets.protocol import State
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

try:
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - the C extension ships in every wheel we use
    from websockets.utils import apply_mask

_TEXT, _CLOSE, _PING, _PONG = 0x1, 0x8, 0x9, 0xA


class HandshakeError(Exception):
    """The server refused the websocket upgrade or chose another subprotocol."""


class WsClient(asyncio.Protocol):
    """One client websocket connection; ``on_text`` is called with every text message."""

    def __init__(
        self,
        url: str,
        subprotocol: str,
        on_text: Callable[[str], None],
        on_lost: Callable[[str], None],
    ) -> None:
        self._handshake: ClientProtocol | None = ClientProtocol(
            parse_uri(url), subprotocols=[Subprotocol(subprotocol)]
        )
        self._subprotocol = subprotocol
        self._on_text = on_text
        self._on_lost = on_lost
        self._transport: asyncio.Transport | None = None
        self._buffer = b""
        loop = asyncio.get_running_loop()
        self.opened: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.close_sent = False

    # --- asyncio.Protocol ----------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        assert self._handshake is not None
        self._handshake.send_request(self._handshake.connect())
        for data in self._handshake.data_to_send():
            transport.write(data)

    def data_received(self, data: bytes) -> None:
        if self._handshake is not None:
            self._handshake_received(data)
            return
        buffer = self._buffer + data if self._buffer else data
        end = len(buffer)
        pos = 0
        while end - pos >= 2:
            first, second = buffer[pos], buffer[pos + 1]
            length = second & 0x7F
            head = 2
            if length == 126:
                if end - pos < 4:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 4], "big")
                head = 4
            elif length == 127:
                if end - pos < 10:
                    break
                length = int.from_bytes(buffer[pos + 2 : pos + 10], "big")
                head = 10
            if end - pos < head + length:
                break
            payload = buffer[pos + head : pos + head + length]
            pos += head + length
            self._frame(first, second, payload)
        self._buffer = buffer[pos:]

    def connection_lost(self, exc: Exception | None) -> None:
        reason = "connection lost" if exc is None else f"connection lost: {exc}"
        if not self.opened.done():
            self.opened.set_exception(HandshakeError(reason))
        if not self.closed.done():
            self.closed.set_result(None)
            if not self.close_sent:
                self._on_lost(reason)

    # --- sending -------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        self._write(_TEXT, text.encode())

    def close(self, code: int = 1000) -> None:
        """Start the closing handshake; ``closed`` resolves when the server has closed."""
        if self.close_sent or self._transport is None:
            return
        self.close_sent = True
        self._write(_CLOSE, code.to_bytes(2, "big"))

    def abort(self) -> None:
        self.close_sent = True
        if self._transport is not None:
            self._transport.abort()

    def _write(self, opcode: int, payload: bytes) -> None:
        assert self._transport is not None
        length = len(payload)
        if length < 126:
            head = bytes((0x80 | opcode, 0x80 | length))
        elif length < 65536:
            head = bytes((0x80 | opcode, 0x80 | 126)) + length.to_bytes(2, "big")
        else:
            head = bytes((0x80 | opcode, 0x80 | 127)) + length.to_bytes(8, "big")
        mask = random.randbytes(4)
        self._transport.write(head + mask + apply_mask(payload, mask))

    # --- receiving -----------------------------------------------------------------

    def _handshake_received(self, data: bytes) -> None:
        protocol = self._handshake
        assert protocol is not None
        assert self._transport is not None
        protocol.receive_data(data)
        events: list[Any] = protocol.events_received()
        if protocol.handshake_exc is not None:
            exc = protocol.handshake_exc
            status = exc.response.status_code if isinstance(exc, InvalidStatus) else None
            detail = f"HTTP {status}" if status is not None else str(exc)
            self._fail_open(HandshakeError(f"handshake refused: {detail}"))
            return
        if protocol.state is not State.OPEN:
            return  # the response is not complete yet
        if protocol.subprotocol != self._subprotocol:
            self._fail_open(HandshakeError(f"subprotocol {protocol.subprotocol!r} chosen"))
            return
        self._handshake = None
        self.opened.set_result(None)
        # A server may write right after its response: those frames were parsed already.
        for event in events:
            if isinstance(event, Frame) and event.opcode.value == _TEXT:
                self._on_text(bytes(event.data).decode())

    def _fail_open(self, exc: HandshakeError) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc)
        self.abort()

    def _frame(self, first: int, second: int, payload: bytes) -> None:
        opcode = first & 0x0F
        if not first & 0x80 or second & 0x80:
            self._protocol_error("fragmented or masked frame from the server")
        elif opcode == _TEXT:
            self._on_text(payload.decode())
        elif opcode == _PING:
            self._write(_PONG, payload)
        elif opcode == _CLOSE:
            if not self.close_sent:
                self.close_sent = True
                self._write(_CLOSE, payload[:2])
                self._on_lost("closed by the server")
            assert self._transport is not None
            self._transport.close()
        elif opcode != _PONG:
            self._protocol_error(f"unexpected opcode {opcode}")

    def _protocol_error(self, reason: str) -> None:
        self._on_lost(reason)
        self.abort()


async def open_client(
    host: str,
    port: int,
    path: str,
    subprotocol: str,
    *,
    on_text: Callable[[str], None],
    on_lost: Callable[[str], None],
    timeout_s: float,
) -> WsClient:
    """Connect over TCP and complete the websocket handshake within ``timeout_s``."""
    loop = asyncio.get_running_loop()
    url = f"ws://{host}:{port}{path}"
    async with asyncio.timeout(timeout_s):
        _, client = await loop.create_connection(
            lambda: WsClient(url, subprotocol, on_text, on_lost), host, port
        )
    try:
        async with asyncio.timeout(timeout_s):
            await client.opened
    except BaseException:
        client.abort()
        raise
    return client
