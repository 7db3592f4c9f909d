"""Make services on this machine's loopback reachable from inside a lab namespace, at the same address.

A namespace has its own loopback: a collector in the demo's centre namespace that posts to
``http://127.0.0.1:9000/hook`` reaches the centre's 127.0.0.1, not the receiver listening on the
machine's. ``LoopbackRelay(ns, [("127.0.0.1", 9000)])`` listens on 127.0.0.1:9000 *inside* ``ns``
and forwards every TCP connection to 127.0.0.1:9000 of the namespace this process runs in, so
URLs in configuration stay as the user wrote them. Sockets keep the namespace they were created
in (``call_in_namespace``), so one thread of this process serves both sides. Only loopback
addresses are accepted: nothing is routed, no address is added anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading

from netmon.lab.netns import LabError, Namespace, call_in_namespace

LOOPBACK_HOSTS = {"127.0.0.1": "127.0.0.1", "localhost": "127.0.0.1", "::1": "::1"}
_CHUNK_BYTES = 65536


def is_loopback(host: str | None) -> bool:
    return (host or "").lower() in LOOPBACK_HOSTS


async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while data := await reader.read(_CHUNK_BYTES):
            writer.write(data)
            await writer.drain()
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            writer.close()


class LoopbackRelay:
    """``start()`` binds in ``ns`` (LabError naming the port when it is taken there); ``close()`` ends it."""

    def __init__(self, ns: Namespace, endpoints: list[tuple[str, int]]) -> None:
        for host, _ in endpoints:
            if not is_loopback(host):
                raise ValueError(f"only loopback addresses can be relayed, not {host!r}")
        self.ns = ns
        self.endpoints = sorted({(LOOPBACK_HOSTS[h.lower()], port) for h, port in endpoints})
        self.connections = 0
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=f"relay-{ns}", daemon=True)
        self._sockets: list[socket.socket] = []
        self._servers: list[asyncio.Server] = []

    def _bind(self) -> list[socket.socket]:
        sockets = []
        for host, port in self.endpoints:
            family = socket.AF_INET6 if ":" in host else socket.AF_INET
            try:
                sockets.append(socket.create_server((host, port), family=family))
            except OSError as exc:
                for sock in sockets:
                    sock.close()
                raise LabError(f"cannot relay {host}:{port} into {self.ns}: {exc.strerror} "
                               "(a service of the namespace uses that port; pick another)") from None
        return sockets

    def start(self) -> LoopbackRelay:
        if not self.endpoints:
            return self
        self._sockets = call_in_namespace(self.ns, self._bind)
        self._thread.start()
        for sock, (host, port) in zip(self._sockets, self.endpoints, strict=True):
            asyncio.run_coroutine_threadsafe(self._serve(sock, host, port), self._loop).result(10)
        return self

    async def _serve(self, sock: socket.socket, host: str, port: int) -> None:
        async def forward(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            try:  # this thread is in the root namespace: the connection goes to the machine's loopback
                upstream_reader, upstream_writer = await asyncio.open_connection(host, port)
            except OSError:
                writer.close()
                return
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

        self._servers.append(await asyncio.start_server(forward, sock=sock))

    async def _shutdown(self) -> None:
        for server in self._servers:
            server.close()
        tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def close(self) -> None:
        if self._thread.is_alive():
            with contextlib.suppress(Exception):
                asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop).result(5)
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.close()
        if not self._thread.is_alive():
            self._loop.close()
