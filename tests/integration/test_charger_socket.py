"""The charger websocket's short path, byte by byte: a raw TCP client on loopback.

Every frame a charger may send reaches the handler once and in order, whether it takes
the short path or websockets' own; every frame websockets refuses is refused with its
close code; replies of every length arrive as valid frames. Each echo test runs on
`ChargerSocket` and on websockets' own `ServerConnection`: the two must not differ.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass, field

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed, ConnectionClosedOK

from ocpp_central.websocket import ChargerSocket
from tests.integration.conftest import Running
from tests.sim.charger import wait_until

pytestmark = pytest.mark.integration

TEXT, BINARY, CONT, CLOSE, PING, PONG = 0x1, 0x2, 0x0, 0x8, 0x9, 0xA


def frame(
    payload: bytes,
    opcode: int = TEXT,
    *,
    fin: bool = True,
    masked: bool = True,
    rsv: int = 0,
    length_bytes: int | None = None,
) -> bytes:
    """One client frame; ``length_bytes`` forces a 2- or 8-byte extended length."""
    size = len(payload)
    head = bytes([(0x80 if fin else 0) | rsv << 4 | opcode])
    mask_bit = 0x80 if masked else 0
    if length_bytes == 8 or (length_bytes is None and size >= 65536):
        head += bytes([mask_bit | 127]) + size.to_bytes(8, "big")
    elif length_bytes == 2 or (length_bytes is None and size >= 126):
        head += bytes([mask_bit | 126]) + size.to_bytes(2, "big")
    else:
        head += bytes([mask_bit | size])
    if not masked:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


@dataclass
class RawClient:
    """A websocket client that writes whatever bytes a test gives it."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter

    async def write(self, *chunks: bytes, pause_s: float = 0.0) -> None:
        for chunk in chunks:
            self.writer.write(chunk)
            await self.writer.drain()
            if pause_s:
                await asyncio.sleep(pause_s)

    async def read_frame(self, timeout_s: float = 5.0) -> tuple[int, bytes]:
        """The next server frame: (opcode, payload). Server frames are never masked."""
        async with asyncio.timeout(timeout_s):
            b1, b2 = await self.reader.readexactly(2)
            assert b2 & 0x80 == 0, "a server frame must not be masked"
            size = b2 & 0x7F
            if size == 126:
                size = int.from_bytes(await self.reader.readexactly(2), "big")
            elif size == 127:
                size = int.from_bytes(await self.reader.readexactly(8), "big")
            assert b1 & 0x80, "the server sends whole messages"
            return b1 & 0x0F, await self.reader.readexactly(size)

    async def texts(self, count: int) -> list[str]:
        found: list[str] = []
        while len(found) < count:
            opcode, payload = await self.read_frame()
            if opcode == TEXT:
                found.append(payload.decode())
        return found

    async def close_code(self) -> int:
        """Read until the server's close frame, then close the TCP connection: its code."""
        while True:
            opcode, payload = await self.read_frame()
            if opcode == CLOSE:
                self.writer.close()
                return int.from_bytes(payload[:2], "big")


@dataclass
class EchoServer:
    """A websocket server on ChargerSocket whose handler echoes each message in upper case."""

    port: int = 0
    received: list[str | bytes] = field(default_factory=list)
    reading: list[bool] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)
    sockets: list[ServerConnection] = field(default_factory=list)


@pytest.fixture(params=[ChargerSocket, ServerConnection], ids=["ChargerSocket", "websockets"])
def socket_class(request: pytest.FixtureRequest) -> type[ServerConnection]:
    """Every echo test runs on ChargerSocket and on websockets' own class: same behaviour."""
    cls: type[ServerConnection] = request.param
    return cls


@contextlib.asynccontextmanager
async def echo_server(
    socket_class: type[ServerConnection],
    *,
    max_size: int = 65_536,
    per_message_s: float = 0.0,
    reply: Callable[[str], str] | None = None,
) -> AsyncIterator[EchoServer]:
    state = EchoServer()

    async def handler(ws: ServerConnection) -> None:
        state.sockets.append(ws)
        try:
            async for message in ws:
                state.received.append(message)
                state.reading.append(ws.transport.is_reading())
                if per_message_s:
                    await asyncio.sleep(per_message_s)
                if isinstance(message, str):
                    await ws.send(message.upper() if reply is None else reply(message))
                else:
                    await ws.send(message)
            state.ended.append("normally")
        except ConnectionClosed as exc:
            state.ended.append(f"closed {exc.sent.code if exc.sent else None}")

    async with serve(
        handler,
        "127.0.0.1",
        0,
        create_connection=socket_class,
        compression=None,
        max_size=max_size,
        max_queue=16,
        ping_interval=None,
    ) as server:
        state.port = next(iter(server.sockets)).getsockname()[1]
        yield state


@contextlib.asynccontextmanager
async def raw_client(
    port: int, path: str = "/", protocol: str | None = None
) -> AsyncIterator[RawClient]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    key = base64.b64encode(os.urandom(16)).decode()
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
    ]
    if protocol is not None:
        lines.append(f"Sec-WebSocket-Protocol: {protocol}")
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode())
    response = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert response.startswith(b"HTTP/1.1 101"), response
    try:
        yield RawClient(reader, writer)
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def test_many_whole_frames_in_one_write_are_read_in_order(
    socket_class: type[ServerConnection],
) -> None:
    """Thirty frames in one TCP write: thirty messages, in order, thirty answers."""
    async with echo_server(socket_class) as server, raw_client(server.port) as client:
        messages = [f"message {i}" for i in range(30)]
        await client.write(b"".join(frame(m.encode()) for m in messages))
        assert await client.texts(30) == [m.upper() for m in messages]
        assert server.received == messages


async def test_a_flood_from_one_charger_pauses_its_socket_until_the_handler_catches_up(
    socket_class: type[ServerConnection],
) -> None:
    """Above max_queue waiting messages the socket stops reading; it reads again below."""
    async with (
        echo_server(socket_class, per_message_s=0.005) as server,
        raw_client(server.port) as client,
    ):
        await client.write(b"".join(frame(f"m{i}".encode()) for i in range(40)))
        assert await client.texts(40) == [f"M{i}" for i in range(40)]
        assert server.reading[0] is False  # 40 waiting > 16: paused at once
        assert server.reading[-1] is True  # resumed once 4 or fewer were left


@pytest.mark.parametrize(
    "cuts",
    [
        pytest.param((1,), id="inside the header"),
        pytest.param((3,), id="inside the mask"),
        pytest.param((9,), id="inside the payload"),
        pytest.param((1, 2, 3, 4, 5, 6, 7), id="byte by byte"),
    ],
)
async def test_a_frame_cut_across_reads_is_read_whole(
    socket_class: type[ServerConnection], cuts: Sequence[int]
) -> None:
    """A frame arriving in pieces is one message, and the next whole frame follows it."""
    async with echo_server(socket_class) as server, raw_client(server.port) as client:
        first = frame(b'[2,"a","Heartbeat",{}]')
        pieces = [first[i:j] for i, j in zip((0, *cuts), (*cuts, len(first)), strict=True)]
        await client.write(*pieces, pause_s=0.02)
        await client.write(frame(b"second"))
        assert await client.texts(2) == ['[2,"A","HEARTBEAT",{}]', "SECOND"]


async def test_a_whole_frame_then_half_a_frame_keep_their_order(
    socket_class: type[ServerConnection],
) -> None:
    """The whole frame is read at once, the cut one when its rest arrives."""
    async with echo_server(socket_class) as server, raw_client(server.port) as client:
        second = frame(b"two")
        await client.write(frame(b"one") + second[:4], pause_s=0.05)
        assert server.received == ["one"]
        await client.write(second[4:] + frame(b"three"))
        assert await client.texts(3) == ["ONE", "TWO", "THREE"]


@pytest.mark.parametrize("size", [0, 125, 126, 300, 65_535])
async def test_messages_of_every_short_length_round_trip(
    socket_class: type[ServerConnection], size: int
) -> None:
    """7- and 16-bit lengths, both ways, at the edges of each."""
    async with echo_server(socket_class) as server, raw_client(server.port) as client:
        text = "x" * size
        await client.write(frame(text.encode()))
        assert await client.texts(1) == [text.upper()]


async def test_a_64_bit_length_and_a_long_reply_round_trip(
    socket_class: type[ServerConnection],
) -> None:
    """A message of 64 KiB or more takes websockets' path in, and an 8-byte length out."""
    async with (
        echo_server(socket_class, max_size=200_000) as server,
        raw_client(server.port) as client,
    ):
        text = "y" * 70_000
        await client.write(frame(text.encode()), frame(b"after"))
        assert await client.texts(2) == [text.upper(), "AFTER"]


async def test_an_extended_length_wider_than_needed_is_still_read(
    socket_class: type[ServerConnection],
) -> None:
    """A short message sent with a 16-bit or 64-bit length field is read like any other."""
    async with echo_server(socket_class) as server, raw_client(server.port) as client:
        await client.write(frame(b"short", length_bytes=2), frame(b"tiny", length_bytes=8))
        assert await client.texts(2) == ["SHORT", "TINY"]


async def test_fragments_around_a_ping_make_one_message_and_a_pong(
    socket_class: type[ServerConnection],
) -> None:
    """A fragmented message is put together; a ping between its fragments gets its pong."""
    async with echo_server(socket_class) as server, raw_client(server.port) as client:
        await client.write(
            frame(b'[2,"f1",', fin=False)
            + frame(b"ping!", PING)
            + frame(b'"Heartbeat",', CONT, fin=False)
            + frame(b"{}]", CONT)
            + frame(b"next")
        )
        opcode, payload = await client.read_frame()
        assert (opcode, payload) == (PONG, b"ping!")
        assert await client.texts(2) == ['[2,"F1","HEARTBEAT",{}]', "NEXT"]
        assert server.received == ['[2,"f1","Heartbeat",{}]', "next"]


async def test_binary_messages_reach_the_handler_as_bytes(
    socket_class: type[ServerConnection],
) -> None:
    """Whole or fragmented, a binary message arrives as bytes, between the texts."""
    async with echo_server(socket_class) as server, raw_client(server.port) as client:
        await client.write(
            frame(b"a")
            + frame(b"\x00\x01", BINARY)
            + frame(b"\x02", BINARY, fin=False)
            + frame(b"\x03", CONT)
            + frame(b"b")
        )
        await wait_until(lambda: len(server.received) == 4)
        assert server.received == ["a", b"\x00\x01", b"\x02\x03", "b"]


@pytest.mark.parametrize(
    ("frames", "code"),
    [
        pytest.param([frame(b"\xff\xfe")], 1007, id="invalid UTF-8"),
        pytest.param(
            [frame(b"\xe2\x82", fin=False), frame(b"\x28", CONT)],
            1007,
            id="invalid UTF-8 in fragments",
        ),
        pytest.param([frame(b"hello", masked=False)], 1002, id="unmasked"),
        pytest.param([frame(b"hello", rsv=4)], 1002, id="RSV1 without an extension"),
        pytest.param(
            [frame(b"z" * 2_000, length_bytes=2)], 1009, id="over max_size, 16-bit length"
        ),
        pytest.param(
            [frame(b"z" * 2_000, length_bytes=8)], 1009, id="over max_size, 64-bit length"
        ),
        pytest.param([frame(b"more", CONT)], 1002, id="a continuation with nothing to continue"),
    ],
)
async def test_frames_websockets_refuses_close_with_its_code(
    socket_class: type[ServerConnection], frames: list[bytes], code: int
) -> None:
    """Whatever the short path does not take is refused exactly as websockets refuses it."""
    async with (
        echo_server(socket_class, max_size=1_000) as server,
        raw_client(server.port) as client,
    ):
        await client.write(frame(b"before"))
        assert await client.texts(1) == ["BEFORE"]
        await client.write(*frames)
        assert await client.close_code() == code
        await wait_until(lambda: bool(server.ended))
        assert server.received == ["before"]
        assert server.ended == [f"closed {code}"]


async def test_a_normal_close_ends_the_iteration_and_sends_then_fail(
    socket_class: type[ServerConnection],
) -> None:
    """After the charger's close, ``async for`` ends; ``recv`` and ``send`` raise."""
    async with echo_server(socket_class) as server, raw_client(server.port) as client:
        await client.write(frame(b"hi"))
        assert await client.texts(1) == ["HI"]
        await client.write(frame((1000).to_bytes(2, "big"), CLOSE))
        assert await client.close_code() == 1000
        await wait_until(lambda: bool(server.ended))
        assert server.ended == ["normally"]
        socket = server.sockets[0]
        await wait_until(lambda: socket.connection_lost_waiter.done())
        with pytest.raises(ConnectionClosedOK):
            await socket.recv()
        with pytest.raises(ConnectionClosed):
            await socket.send("too late")


async def test_pipelined_calls_through_the_gateway_are_all_answered_in_order(
    running: Running,
) -> None:
    """A charger writing 40 CALLs at once gets 40 answers in order; another is not held up."""
    port = running.gateway.ocpp.port
    async with (
        raw_client(port, "/ocpp/AC-0001", "ocpp1.6") as flood,
        raw_client(port, "/ocpp/DC-0001", "ocpp2.0.1") as other,
    ):
        calls = [json.dumps([2, f"hb{i}", "Heartbeat", {}]).encode() for i in range(40)]
        await flood.write(b"".join(frame(c) for c in calls))
        await other.write(frame(json.dumps([2, "solo", "Heartbeat", {}]).encode()))
        assert json.loads((await other.texts(1))[0])[:2] == [3, "solo"]
        answers = [json.loads(t) for t in await flood.texts(40)]
        assert [a[:2] for a in answers] == [[3, f"hb{i}"] for i in range(40)]


async def test_with_websockets_debug_logging_on_every_frame_is_read_and_logged_by_it(
    socket_class: type[ServerConnection],
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Debug logging of websockets keeps its per-frame lines: the short path stands aside."""
    caplog.set_level(logging.DEBUG, logger="websockets")
    async with echo_server(socket_class) as server, raw_client(server.port) as client:
        await client.write(frame(b"one") + frame(b"two"))
        assert await client.texts(2) == ["ONE", "TWO"]
    assert server.received == ["one", "two"]
    assert any("< TEXT 'one'" in r.getMessage() for r in caplog.records)
