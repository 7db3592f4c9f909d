"""The outbox for asyncio code: every call runs on one thread owned by the outbox.

``synchronous=FULL`` means an fsync per commit; on an SD card that can take tens of
milliseconds, which must not stall the event loop while probes are timing connections.
One thread keeps SQLite's one-connection-one-thread rule and orders writes.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from typing import Any, TypeVar

from netmon.contract import Observation, ResultRecord
from netmon.probes.agent.outbox import Outbox, OutboxStats, Queued

_T = TypeVar("_T")


class AsyncOutbox:
    def __init__(self, executor: concurrent.futures.ThreadPoolExecutor, outbox: Outbox) -> None:
        self._executor = executor
        self._outbox = outbox

    @classmethod
    async def open(cls, path: Path, **kwargs: Any) -> AsyncOutbox:
        executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="outbox")
        loop = asyncio.get_running_loop()
        try:
            outbox = await loop.run_in_executor(executor, functools.partial(Outbox, path, **kwargs))
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(executor, outbox)

    async def _call(self, fn: Callable[..., _T], *args: Any) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._executor, functools.partial(fn, *args))

    @property
    def snapshot(self) -> OutboxStats:
        """The stats after the last operation (read by /metrics from its own thread; never blocks)."""
        return self._outbox.snapshot

    async def add(self, observations: Sequence[Observation]) -> list[ResultRecord]:
        return await self._call(self._outbox.add, observations)

    async def oldest(self, limit: int, exclude: Iterable[int] = ()) -> list[Queued]:
        return await self._call(self._outbox.oldest, limit, tuple(exclude))

    async def newest(self, probe: str) -> Queued | None:
        return await self._call(self._outbox.newest, probe)

    async def acknowledge(self, seqs: Iterable[int]) -> int:
        return await self._call(self._outbox.acknowledge, tuple(seqs))

    async def reject(self, seqs: Iterable[int]) -> int:
        return await self._call(self._outbox.reject, tuple(seqs))

    async def set_in_flight(self, seqs: Iterable[int]) -> None:
        await self._call(self._outbox.set_in_flight, tuple(seqs))

    async def prune(self) -> int:
        return await self._call(self._outbox.prune)

    async def close(self) -> None:
        await self._call(self._outbox.close)
        self._executor.shutdown(wait=True)
