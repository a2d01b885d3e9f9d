"""A fault-injecting TCP proxy on loopback: put it between a client and a service, then break the link.

    proxy = FaultProxy().start()            # listens on 127.0.0.1:proxy.port now
    proxy.upstream = ("127.0.0.1", 9000)    # may be set later (the client's settings need the port first)
    proxy.down()   # connections are refused-and-reset, open ones are cut: "the service is unreachable"
    proxy.stall()  # bytes are held in both directions: a call hangs mid-request (used to crash handlers)
    proxy.up()     # pass everything again; held bytes flow on

Hand-written on asyncio streams rather than a library: Toxiproxy (the usual tool) is a Go server that
is not installable from PyPI here, and the three modes above are all these tests need. It runs its own
event loop in a daemon thread, so a synchronous test drives it with plain method calls.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Literal

from local.services.processes import free_port

Mode = Literal["up", "down", "stall"]
_CHUNK = 64 * 1024


class FaultProxy:
    def __init__(self, upstream: tuple[str, int] | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.upstream = upstream
        self.mode: Mode = "up"
        self.connections = 0  # accepted so far
        self.stalled_chunks = 0  # chunks that had to wait for `up()`
        self._loop = asyncio.new_event_loop()
        self._flowing: asyncio.Event | None = None
        self._open: set[asyncio.StreamWriter] = set()
        self._server: asyncio.AbstractServer | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"faultproxy-{self.port}", daemon=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        return f"http://{self.address}"

    def start(self) -> FaultProxy:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self._listen(), self._loop).result(timeout=10)
        return self

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)

    def up(self) -> None:
        self._set("up")

    def down(self) -> None:
        self._set("down")

    def stall(self) -> None:
        self._set("stall")

    def _set(self, mode: Mode) -> None:
        asyncio.run_coroutine_threadsafe(self._apply(mode), self._loop).result(timeout=10)

    async def _apply(self, mode: Mode) -> None:
        assert self._flowing is not None
        self.mode = mode
        if mode == "stall":
            self._flowing.clear()
            return
        self._flowing.set()
        if mode == "down":
            for writer in list(self._open):
                _reset(writer)

    async def _listen(self) -> None:
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._open):
            _reset(writer)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self.mode == "down" or self.upstream is None:
            _reset(writer)
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        except OSError:
            _reset(writer)
            return
        self._open |= {writer, up_writer}
        try:
            await asyncio.gather(self._pump(reader, up_writer), self._pump(up_reader, writer))
        finally:
            self._open -= {writer, up_writer}
            for end in (writer, up_writer):
                end.close()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        assert self._flowing is not None
        try:
            while chunk := await reader.read(_CHUNK):
                if not self._flowing.is_set():
                    self.stalled_chunks += 1
                    await self._flowing.wait()
                if self.mode == "down":
                    break
                writer.write(chunk)
                await writer.drain()
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass


def _reset(writer: asyncio.StreamWriter) -> None:
    """Close with RST (SO_LINGER 0), so the client sees a reset rather than a clean end of stream."""
    import socket
    import struct

    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.close()
