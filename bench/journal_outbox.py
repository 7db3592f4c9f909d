"""What the shared counts cost the journal: commits with the outbox off (SQLite mode) and on, with
its pusher sending to a real PostgreSQL, side by side in one run.

    python bench/journal_outbox.py --batches 20000 --batch 13 --concurrency 64

Batches of ``--batch`` results (13: the agents' real batch size) with fresh seqs from 200 sites
are committed through the real ``Journal`` (group commit, synchronous=FULL), ``--concurrency``
at a time, as the ingest service does. Prints results/s and the process's CPU seconds per
10,000 results for each mode, and for the outbox mode how long the last rows took to reach
PostgreSQL after the last commit. Loopback only (the PostgreSQL is started here, in a temp dir).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from netmon.collectors.journal import Journal  # noqa: E402
from netmon.collectors.outbox_push import SharedIngest  # noqa: E402
from netmon.collectors.site_counts import open_counts  # noqa: E402
from netmon.contract import BATCH_ADAPTER, ResultBatch  # noqa: E402
from netmon.lab.collector import sample_batch  # noqa: E402
from netmon.lab.postgres import start_postgres  # noqa: E402
from netmon.statedb import StateLocation  # noqa: E402

SITES = [str(26000 + i) for i in range(200)]


def batches(count: int, size: int) -> list[tuple[ResultBatch, bytes]]:
    out = []
    for n in range(count):
        site = SITES[n % len(SITES)]
        first = (n // len(SITES)) * size + 1
        body = json.dumps(sample_batch(site, range(first, first + size))).encode()
        out.append((BATCH_ADAPTER.validate_json(body), body))
    return out


async def run(state_dir: Path, dsn: str | None, work: list[tuple[ResultBatch, bytes]], concurrency: int
              ) -> dict[str, float]:
    journal = Journal(state_dir, outbox=dsn is not None)
    counts = open_counts(StateLocation(state_dir, "bench", dsn), journal, max_gaps_per_agent=10_000)
    await counts.start()
    queue = iter(work)

    async def worker() -> None:
        for batch, body in queue:
            await journal.commit(batch, body, False, "P", None)

    cpu, wall = time.process_time(), time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    drained = time.perf_counter()
    if isinstance(counts, SharedIngest):
        await counts.flush(60)
        total = sum(c.accepted for c in (await counts.site_counters()).values())
    else:
        total = sum(c.accepted for c in journal.counters.values())
    drained = time.perf_counter() - drained
    await counts.aclose()
    journal.close()
    results = sum(len(b.results) for b, _ in work)
    assert total == results, (total, results)
    return {"results_per_s": results / wall, "cpu_s_per_10k": cpu / results * 10_000, "drain_s": drained}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--batches", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=13, help="results per batch")
    parser.add_argument("--concurrency", type=int, default=64)
    args = parser.parse_args()
    work = batches(args.batches, args.batch)
    with start_postgres() as server, tempfile.TemporaryDirectory() as tmp:
        dsn = server.create_database()
        for name, target in (("sqlite (outbox off)", None), ("postgres (outbox + pusher)", dsn)):
            state = Path(tmp) / name.split()[0]
            state.mkdir()
            figures = asyncio.run(run(state, target, work, args.concurrency))
            print(f"{name:28} {figures['results_per_s']:9,.0f} results/s  {figures['cpu_s_per_10k']:.3f} CPU s "
                  f"per 10k results  last rows in PostgreSQL {figures['drain_s']:.2f} s after the last commit")


if __name__ == "__main__":
    main()
