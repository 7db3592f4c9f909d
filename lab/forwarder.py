"""A TCP forwarder on loopback whose link can be cut and restored: a network partition between
one service and another, on one machine, for tests.

``TcpForwarder(upstream_port).start()`` listens on 127.0.0.1 at a free port (``port``) and
forwards each connection to ``127.0.0.1:upstream_port``. ``cut()`` closes every forwarded
connection at once and, until ``restore()``, closes each new one as soon as it is accepted: the
client sees its server vanish and every reconnect fail, while other clients of the same server
are untouched. Loopback only: nothing is routed anywhere else.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Callable

from netmon.lab.relay import pipe


class TcpForwarder:
    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self.port = 0
        self.refused = 0  # connections closed because the link was cut
        self._cut = False
        self._open: set[asyncio.StreamWriter] = set()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="tcp-forwarder", daemon=True)
        self._server: asyncio.Server | None = None

    def start(self) -> TcpForwarder:
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._forward, "127.0.0.1", 0), self._loop).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _forward(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._cut:
            self.refused += 1
            writer.close()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            writer.close()
            return
        if self._cut:  # cut while connecting upstream: this one must not slip through
            self.refused += 1
            upstream_writer.close()
            writer.close()
            return
        self._open.update((writer, upstream_writer))
        try:
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))
        finally:
            self._open.difference_update((writer, upstream_writer))

    def cut(self) -> None:
        """Break every forwarded connection now and refuse new ones until ``restore``."""
        def cut_now() -> None:
            self._cut = True
            for writer in list(self._open):
                with contextlib.suppress(OSError):
                    writer.transport.abort()
        self._call(cut_now)

    def restore(self) -> None:
        def restore_now() -> None:
            self._cut = False
        self._call(restore_now)

    def _call(self, fn: Callable[[], None]) -> None:
        async def run() -> None:
            fn()
        asyncio.run_coroutine_threadsafe(run(), self._loop).result(5)

    def close(self) -> None:
        if not self._thread.is_alive():
            return
        async def shutdown() -> None:
            if self._server is not None:
                self._server.close()
            for writer in list(self._open):
                writer.transport.abort()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(5)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()
