"""The standard process and platform collectors on a /metrics page, checked against /proc."""

from __future__ import annotations

import time
from pathlib import Path


def assert_process_metrics(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], pid: int,
                           started: float) -> None:
    """process_* agree with /proc (RSS within 25 %, start time between the test's start and now);
    python_info and the GC counters are there."""
    status = Path(f"/proc/{pid}/status").read_text()
    rss = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))) * 1024
    assert 0.75 * rss <= samples[("process_resident_memory_bytes", ())] <= 1.25 * rss
    assert started - 1 <= samples[("process_start_time_seconds", ())] <= time.time()
    assert samples[("process_cpu_seconds_total", ())] > 0
    assert any(name == "python_info" for name, _ in samples)
    assert ("python_gc_objects_collected_total", (("generation", "0"),)) in samples

