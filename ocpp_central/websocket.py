"""Edge: a charger's websocket connection, with a short path for its plain text frames.

websockets does the opening handshake, TLS, keepalive, control frames, fragmented
messages and the closing handshake. What it does for every ordinary OCPP frame (a
generator-based parser, a Frame object, an assembler with its own queue and futures, an
async context manager around each send) costs about as much as everything else the
echo server does; at saturation that is a third of the gateway's time per message.

`ChargerSocket` reads and writes the overwhelmingly common frame itself: one complete,
unfragmented, masked text frame with a 7- or 16-bit length, valid UTF-8, within the
size limit, arriving while the protocol sits between frames. Anything else (a frame cut
across reads, a control frame, a fragment, an unmasked, oversize or invalid frame, a
closing connection) is handed to websockets byte for byte, so every error is answered
exactly as websockets answers it (1002, 1007, 1009, ...). Messages from both paths go
into one inbox in arrival order, and the inbox pauses the socket above ``max_queue``
messages as websockets' own assembler does: a charger flooding CALLs is slowed down,
not buffered without bound.
"""

from __future__ import annotations

import asyncio
from typing import Any

from websockets.asyncio.server import ServerConnection
from websockets.exceptions import ConnectionClosedOK
from websockets.frames import CloseCode, Frame, Opcode
from websockets.protocol import OPEN

try:  # websockets' C helper, as websockets itself uses it
    from websockets.speedups import apply_mask
except ImportError:  # pragma: no cover - a platform without the compiled helper
    from websockets.utils import apply_mask

#: FIN set, no RSV bit, opcode 1: a whole text message in one frame.
_WHOLE_TEXT = 0x81
_MASKED = 0x80
_LENGTH_16 = 126
_LENGTH_64 = 127
_MAX_LENGTH_16 = 0xFFFF  # the longest payload a 16-bit length field can give
_DATA = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)


class ChargerSocket(ServerConnection):
    """A `ServerConnection` whose ordinary text frames skip websockets' generic machinery.

    Read it with ``async for message in socket`` (or ``recv``) and write with ``send``,
    as any `ServerConnection`.
    """

    # Thousands of these stay open: the new fields live in slots, not in the __dict__.
    __slots__ = ("_high", "_inbox", "_low", "_partial", "_paused_reading", "_waiter")

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A list, not a deque: it rarely holds more than one message, and an empty deque
        # reserves a block of 64 slots per idle connection.
        self._inbox: list[str | bytes] = []
        self._waiter: asyncio.Future[None] | None = None
        # A fragmented message being put together: its opcode and the data so far.
        self._partial: tuple[Opcode, bytearray] | None = None
        self._paused_reading = False
        super().connection_made(transport)
        # The watermarks websockets' own assembler derives from ``max_queue``.
        self._high: int | None = self.recv_messages.high
        self._low: int | None = self.recv_messages.low

    # --- receiving -------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        protocol = self.protocol
        if (
            protocol.state is not OPEN
            or protocol.reader.buffer
            or protocol.current_size is not None
            or protocol.extensions
            or protocol.debug  # websockets logs each frame it reads: let it
        ):
            super().data_received(data)
            return
        limit = protocol.max_message_size
        if protocol.max_fragment_size is not None:
            limit = min(protocol.max_fragment_size, limit or protocol.max_fragment_size)
        inbox = self._inbox
        size = len(data)
        pos = 0
        # Header (2) and mask (4): 6 bytes make the smallest frame.
        while size - pos >= 6 and data[pos] == _WHOLE_TEXT:
            length = data[pos + 1] ^ _MASKED
            if length >= _MASKED:  # the mask bit was clear: websockets refuses the frame
                break
            start = pos + 2
            if length == _LENGTH_16:
                length = int.from_bytes(data[start : start + 2], "big")
                start += 2
            elif length == _LENGTH_64:
                break  # a message of 64 KiB or more: rare, websockets reads it
            end = start + 4 + length
            if end > size or (limit is not None and length > limit):
                break
            try:
                message = apply_mask(data[start + 4 : end], data[start : start + 4]).decode()
            except UnicodeDecodeError:
                break  # websockets closes with 1007
            inbox.append(message)
            pos = end
        if pos:
            self._arrived()
            if pos == size:
                return
            data = data[pos:]
        super().data_received(data)

    def process_event(self, event: Any) -> None:
        """Data frames websockets parsed join the same inbox; everything else is its own."""
        if not isinstance(event, Frame) or event.opcode not in _DATA:
            super().process_event(event)
            return
        # websockets has checked the sequence of fragments and their total size.
        if self._partial is None:
            if event.fin:
                self._deliver(event.opcode, event.data)
                return
            self._partial = (event.opcode, bytearray(event.data))
            return
        opcode, data = self._partial
        data += event.data
        if event.fin:
            self._partial = None
            self._deliver(opcode, data)

    def _deliver(self, opcode: Opcode, data: bytes | bytearray | memoryview) -> None:
        message: str | bytes
        if opcode is Opcode.TEXT:
            try:
                message = bytes(data).decode()
            except UnicodeDecodeError as exc:
                # What websockets' own receive path does with invalid UTF-8.
                self.protocol.fail(CloseCode.INVALID_DATA, f"{exc.reason} at position {exc.start}")
                self.send_data()
                return
        else:
            message = bytes(data)
        self._inbox.append(message)
        self._arrived()

    def _arrived(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)
        high = self._high
        if high is not None and not self._paused_reading and len(self._inbox) > high:
            self._paused_reading = True
            self.transport.pause_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        super().connection_lost(exc)
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def __aiter__(self) -> ChargerSocket:
        return self

    async def __anext__(self) -> str | bytes:
        """The next message; the iteration ends at a normal closure, else ConnectionClosed."""
        inbox = self._inbox
        while not inbox:
            if self.connection_lost_waiter.done():
                closed = self.close_exc
                if isinstance(closed, ConnectionClosedOK):
                    raise StopAsyncIteration
                raise closed
            waiter = self._waiter = self.loop.create_future()
            try:
                await waiter
            finally:
                self._waiter = None
        message = inbox.pop(0)
        if self._paused_reading:
            low = self._low
            if low is None or len(inbox) <= low:
                self._paused_reading = False
                self.transport.resume_reading()
        return message

    async def recv(self, decode: bool | None = None) -> str | bytes:  # type: ignore[override]
        """The next message, as sent (text as str, binary as bytes; ``decode`` is ignored)."""
        try:
            return await self.__anext__()
        except StopAsyncIteration:
            raise self.close_exc from None

    # --- sending ---------------------------------------------------------------------

    async def send(self, message: Any, *, text: bool | None = None) -> None:
        """Send ``message``; a plain string goes out at once as one unmasked text frame."""
        if (
            type(message) is str
            and text is None
            and self.protocol.state is OPEN
            and self.send_in_progress is None
            and not self.paused
            and not self.protocol.extensions
            and not self.protocol.debug
            and not self.transport.is_closing()
        ):
            data = message.encode()
            size = len(data)
            if size < _LENGTH_16:
                head = bytes((_WHOLE_TEXT, size))
            elif size <= _MAX_LENGTH_16:
                head = bytes((_WHOLE_TEXT, _LENGTH_16)) + size.to_bytes(2, "big")
            else:
                head = bytes((_WHOLE_TEXT, _LENGTH_64)) + size.to_bytes(8, "big")
            self.transport.write(head + data)
            return
        await super().send(message, text=text)
