"""A clean stop of the real collector (SIGTERM, as systemd sends it) writes what the alert engine
keeps in memory between its 30 s persists — the RTT baselines it learnt and when each site last
reported — so a restart neither re-learns baselines from scratch nor misjudges silence."""

from __future__ import annotations

import contextlib
import signal
import sqlite3
import time
from pathlib import Path

from netmon.alerting.service import STATE_FILE
from netmon.lab.collector import lab_site, sample_batch, start_collector, write_central, write_registry

SITE = "26734"
# the one baseline rule of the default rules, on the icmp RTT of the lab site's leased line
BASELINE_KEY = f"LinkRttAboveBaseline|{SITE}|leased|isp-edge|rtt_avg_seconds"
ALPHA = 0.05  # alerting/default_rules.yaml: baseline.alpha of LinkRttAboveBaseline


def expected_mean(values: list[float]) -> float:
    mean = values[0]
    for value in values[1:]:
        mean += ALPHA * (value - mean)
    return mean


def test_sigterm_persists_the_alert_engines_baselines_and_last_seen_times(tmp_path: Path) -> None:
    central = write_central(tmp_path, write_registry(tmp_path / "sites.yaml", [lab_site(SITE)]))
    collector = start_collector(central)
    try:
        token = collector.enrol(SITE)
        # recent results (the engine ignores those older than stale_after, 5 min), one second apart
        batch = sample_batch(SITE, range(1, 13), time_ns=time.time_ns() - 30 * 10**9)
        posted_from = time.time()
        status, ack = collector.post_batch(token, batch)
        posted_until = time.time()
        assert status == 200 and ack["accepted"] == 12, ack
        # well inside the engine's first periodic persist (30 s after start): only shutdown writes
        collector.proc.signal(signal.SIGTERM)
        # uvicorn re-raises the signal once shut down: "killed by SIGTERM" is how a clean stop ends
        assert collector.proc.popen.wait(20) == -signal.SIGTERM, collector.proc.log()[-3000:]
    finally:
        collector.stop()
    log = collector.proc.log()
    assert "Application shutdown complete." in log and "Traceback" not in log, log[-3000:]
    with contextlib.closing(sqlite3.connect(f"file:{collector.state_dir / STATE_FILE}?mode=ro", uri=True)) as db:
        baselines = {key: (mean, samples) for key, mean, samples in db.execute("SELECT key, mean, samples "
                                                                                "FROM baselines")}
        seen = dict(db.execute("SELECT site_id, last_seen FROM site_seen").fetchall())
    rtts = [r["values"]["rtt_avg_seconds"] for r in batch["results"]]
    assert baselines.keys() == {BASELINE_KEY}, baselines
    mean, samples = baselines[BASELINE_KEY]
    assert samples == 12
    assert abs(mean - expected_mean(rtts)) < 1e-12, (mean, expected_mean(rtts))
    assert seen.keys() == {SITE}
    assert posted_from <= seen[SITE] <= posted_until
