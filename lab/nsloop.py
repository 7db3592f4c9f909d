"""A long-lived asyncio loop whose thread lives in a lab namespace.

``call_in_namespace(ns, lambda: asyncio.run(...))`` gives each call a fresh loop; probes
that keep state bound to a loop between runs (pysnmp engines, previous samples) need one
loop for a whole test while the test itself restarts daemons or shapes links in between.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

from netmon.lab.netns import Namespace, call_in_namespace

_T = TypeVar("_T")


class NamespaceLoop:
    """``with NamespaceLoop(ns) as loop: loop.run(coro)`` runs ``coro`` inside ``ns``."""

    def __init__(self, ns: Namespace | str) -> None:
        self.ns = ns
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"nsloop-{ns}", daemon=True)
        self._error: list[BaseException] = []

    def _main(self) -> None:
        def body() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        try:
            call_in_namespace(self.ns, body)
        except BaseException as exc:
            self._error.append(exc)
            self._ready.set()

    def __enter__(self) -> NamespaceLoop:
        self._thread.start()
        self._ready.wait(10)
        if self._error or self._loop is None:
            raise RuntimeError(f"could not start a loop in {self.ns}: {self._error}")
        return self

    def run(self, coro: Coroutine[Any, Any, _T], timeout: float = 120.0) -> _T:
        assert self._loop is not None
        future: Future[_T] = asyncio.run_coroutine_threadsafe(coro, self._loop)
        return future.result(timeout)

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
