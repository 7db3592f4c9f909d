"""throughput against a real iperf3 server over tbf-shaped links, compared with iperf3's own client."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from netmon.config.site import SiteConfig
from netmon.contract import Observation, ProbeKind, Status
from netmon.lab.iperf import iperf3_client, received_bps, start_iperf3, tcp_port_open
from netmon.lab.netns import call_in_namespace
from netmon.lab.topology import SiteTopology
from netmon.probes.base import ProbeContext, ProbeOptions, ProbeTask
from netmon.probes.kinds import ProbeKinds
from netmon.probes.plan import build_tasks
from netmon.probes.throughput import ThroughputProbe
from netmon.probes.throughput.guards import ByteBudget, in_quiet_hours

SITE = {"id": "26734", "name": "Phường Phước Tân", "province": "Đồng Nai"}
SERVER = "10.77.2.2"  # centre end of the leased line


def throughput_task(contracted_mbps: float = 20, options: dict[str, Any] | None = None, **section: Any) -> ProbeTask:
    config = SiteConfig.model_validate({
        "site": SITE,
        "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": contracted_mbps, "probes": [],
                   # these tests are about the test itself; tests/probes/test_throughput_guard.py about the guard
                   "throughput": {"server": SERVER, "port": 5201, "duration": 3, "when_load_unknown": "test",
                                  **section}}],
        "probes": {"throughput": {"timeout": 30, "connect_timeout": 1, **(options or {})}},
    })
    kinds = ProbeKinds()
    kinds.register(ThroughputProbe)
    (task,) = build_tasks(config, kinds)
    return task


def measure(topo: SiteTopology, probe: ThroughputProbe, task: ProbeTask) -> Observation:
    return call_in_namespace(topo.site, lambda: asyncio.run(probe.measure(task)))


def reference(topo: SiteTopology, *, reverse: bool, probe_bps: float) -> float:
    """iperf3's own client on the same line. A cubic flow through a tbf with a small burst now and
    then stalls in its first seconds (seen once: 1.7 Mbit/s on a 100 Mbit/s line while the probe
    read 96): when the first reference run disagrees, a second one is taken and the better kept."""
    first = received_bps(iperf3_client(topo.site, SERVER, 5201, seconds=3, omit_seconds=1, reverse=reverse))
    if first == pytest.approx(probe_bps, rel=0.05):
        return first
    second = received_bps(iperf3_client(topo.site, SERVER, 5201, seconds=3, omit_seconds=1, reverse=reverse))
    return max(first, second)


@pytest.mark.netns
@pytest.mark.parametrize("rate_mbit", [20, 100])
def test_upload_and_download_within_5_percent_of_iperf3s_own_client(rate_mbit: int, site_topo: SiteTopology,
                                                                      tmp_path: Path) -> None:
    site_topo.shape(site_topo.leased, rate_mbit)
    start_iperf3(site_topo.centre, SERVER, 5201)
    task = throughput_task(contracted_mbps=rate_mbit)
    # The line's first TCP flow after it was set up sometimes reads 15-20 % low for the probe and
    # iperf3 alike (seen 80 vs 95 Mbit/s, 3 runs in 4 under the full suite): both are measured on
    # a line that has carried traffic before, as a commune's line has.
    iperf3_client(site_topo.site, SERVER, 5201, seconds=1, omit_seconds=0, reverse=False)
    result = measure(site_topo, ThroughputProbe(ProbeContext(state_dir=tmp_path)), task)
    up, down = result.values["upload_bps"], result.values["download_bps"]
    reference_up = reference(site_topo, reverse=False, probe_bps=up)
    reference_down = reference(site_topo, reverse=True, probe_bps=down)
    if not (up == pytest.approx(reference_up, rel=0.05) and down == pytest.approx(reference_down, rel=0.05)):
        # the same second chance the reference gets: a single flow on a loaded 2-core box now and
        # then reads 7-8 % low whoever starts it (seen once in CI: probe 88 vs iperf3 95 Mbit/s);
        # a probe that is wrong reads wrong twice
        again = measure(site_topo, ThroughputProbe(ProbeContext(state_dir=tmp_path / "again")), task)
        assert again.status is Status.OK, again.reason
        if again.values["upload_bps"] + again.values["download_bps"] > up + down:
            result = again
            up, down = result.values["upload_bps"], result.values["download_bps"]
    print(f"{rate_mbit} Mbit/s: probe up {up / 1e6:.2f} down {down / 1e6:.2f}; iperf3 up {reference_up / 1e6:.2f} "
          f"down {reference_down / 1e6:.2f}")
    assert result.status is Status.OK, result.reason
    assert up == pytest.approx(reference_up, rel=0.05)
    assert down == pytest.approx(reference_down, rel=0.05)
    # and both are the shaped line, not something else
    assert 0.88 * rate_mbit * 1e6 < up < 1.02 * rate_mbit * 1e6
    assert result.values["upload_ratio"] == pytest.approx(up / (rate_mbit * 1e6))
    assert result.values["download_ratio"] == pytest.approx(down / (rate_mbit * 1e6))
    # 3 s + 1 s omitted in each direction at the line rate, both ways
    expected_bytes = 2 * 4 * rate_mbit * 1e6 / 8
    assert 0.8 * expected_bytes < result.values["bytes_used"] < 1.1 * expected_bytes
    assert result.values["budget_remaining_bytes"] == 500e6 - result.values["bytes_used"]
    assert 8 <= result.values["duration_seconds"] < 14


@pytest.mark.netns
def test_budget_refuses_once_used_survives_a_restart_and_resets_at_midnight(site_topo: SiteTopology,
                                                                            tmp_path: Path) -> None:
    start_iperf3(site_topo.centre, SERVER, 5201)
    # a test at 20 Mbit/s for 1 s each way is about 5 MB and may move up to 7.8 MB (paced to
    # 30 Mbit/s): 8 MB allows one, not two
    task = throughput_task(max_bytes_per_day=8_000_000, duration=1, options={"omit_seconds": 0})
    probe = ThroughputProbe(ProbeContext(state_dir=tmp_path))
    first = measure(site_topo, probe, task)
    assert first.status is Status.OK and "upload_bps" in first.values, first.reason
    used = first.values["bytes_used"]
    assert first.values["budget_remaining_bytes"] == 8_000_000 - used

    restarted = ThroughputProbe(ProbeContext(state_dir=tmp_path))
    refused = measure(site_topo, restarted, task)
    assert refused.status is Status.OK
    assert refused.info == {"skipped": "budget"}
    assert refused.reason == (f"daily budget exhausted: {used / 1e6:.1f} MB of 8.0 MB used today, "
                              "a test may move up to 7.8 MB")
    assert "upload_bps" not in refused.values and "bytes_used" not in refused.values
    assert refused.values["budget_remaining_bytes"] == 8_000_000 - used
    state = json.loads((tmp_path / "throughput-budget.json").read_text())
    assert state == {"date": dt.date.today().isoformat(), "used": {"throughput/leased": int(used)}}

    tomorrow = dt.datetime.now() + dt.timedelta(days=1)
    restarted.now = lambda: tomorrow  # type: ignore[method-assign]
    next_day = measure(site_topo, restarted, task)
    assert next_day.status is Status.OK and "upload_bps" in next_day.values, next_day.reason


def test_quiet_hours_refuse_without_touching_the_link(tmp_path: Path) -> None:
    task = throughput_task(quiet_hours=["00:00-24:00"])
    result = asyncio.run(ThroughputProbe(ProbeContext(state_dir=tmp_path)).measure(task))
    assert result.status is Status.OK
    assert result.info == {"skipped": "quiet_hours"}
    assert result.reason == "quiet hours 00:00-24:00 (local time): no test now"
    assert set(result.values) == {"budget_remaining_bytes", "contracted_bps"}
    assert not (tmp_path / "throughput-budget.json").exists()


def test_quiet_hour_windows_in_local_time_including_over_midnight() -> None:
    at = lambda h, m: dt.datetime(2025, 7, 1, h, m)  # noqa: E731
    office = ["07:30-11:30", "13:30-17:00"]
    assert in_quiet_hours(office, at(7, 30)) == "07:30-11:30"
    assert in_quiet_hours(office, at(11, 30)) is None
    assert in_quiet_hours(office, at(16, 59)) == "13:30-17:00"
    assert in_quiet_hours(["22:00-06:00"], at(23, 0)) == "22:00-06:00"
    assert in_quiet_hours(["22:00-06:00"], at(5, 59)) == "22:00-06:00"
    assert in_quiet_hours(["22:00-06:00"], at(6, 0)) is None


def snmp_observation(utilisation: float, age_seconds: float = 5) -> Observation:
    snmp_task = ProbeTask(kind=ProbeKind.SNMP_IF, key="snmp_if/leased", target="leased", host="10.77.1.1",
                          options=ProbeOptions(), site=throughput_task().site, link=throughput_task().link)
    return snmp_task.observe(Status.OK, values={"utilisation_ratio": utilisation, "window_seconds": 60},
                             time_ns=time.time_ns() - int(age_seconds * 1e9))


def test_a_busy_link_is_refused_on_the_latest_snmp_observation(tmp_path: Path) -> None:
    context = ProbeContext(state_dir=tmp_path)
    context.latest["snmp_if/leased"] = snmp_observation(0.87)
    result = asyncio.run(ThroughputProbe(context).measure(throughput_task(busy_threshold_ratio=0.5)))
    assert result.status is Status.OK
    assert result.info == {"skipped": "busy"}
    assert result.reason is not None
    assert result.reason.startswith("link busy at 87 % of contracted rate (threshold 50 %, SNMP ")
    assert "upload_bps" not in result.values


@pytest.mark.netns
def test_below_threshold_or_stale_snmp_does_not_block_and_a_down_server_fails(site_topo: SiteTopology,
                                                                               tmp_path: Path) -> None:
    context = ProbeContext(state_dir=tmp_path)
    context.latest["snmp_if/leased"] = snmp_observation(0.95, age_seconds=3600)  # an hour old: not "now"
    probe = ThroughputProbe(context)
    result = measure(site_topo, probe, throughput_task(busy_threshold_ratio=0.5))
    assert result.status is Status.FAILED
    assert result.reason == "upload: iperf3: unable to connect to server: Connection refused"
    assert "upload_bps" not in result.values and "skipped" not in result.info


@pytest.mark.netns
def test_a_busy_server_fails_with_iperf3s_reason(site_topo: SiteTopology, tmp_path: Path) -> None:
    start_iperf3(site_topo.centre, SERVER, 5201)
    site_topo.site.start(["iperf3", "-c", SERVER, "-p", "5201", "-t", "6", "-b", "1M"], name="other-test")
    asyncio.run(asyncio.sleep(0.5))
    result = measure(site_topo, ThroughputProbe(ProbeContext(state_dir=tmp_path)), throughput_task())
    assert result.status is Status.FAILED
    assert result.reason == "upload: iperf3: the server is busy running a test. try again later"
    assert ByteBudget(tmp_path).used("throughput/leased", dt.date.today()) == 0


@pytest.mark.netns
def test_a_server_busy_for_a_moment_is_tried_again_and_the_test_runs(site_topo: SiteTopology, tmp_path: Path) -> None:
    start_iperf3(site_topo.centre, SERVER, 5201)
    other = site_topo.site.start(["iperf3", "-c", SERVER, "-p", "5201", "-t", "1", "-b", "1M"], name="other-test")
    asyncio.run(asyncio.sleep(0.3))
    result = measure(site_topo, ThroughputProbe(ProbeContext(state_dir=tmp_path)),
                     throughput_task(duration=1, options={"omit_seconds": 0}))
    assert other.popen.wait(10) == 0  # the other test really held the server while we started
    assert result.status is Status.OK, result.reason
    assert result.values["upload_bps"] > 10e6 and result.values["download_bps"] > 10e6


SILENT_SERVER = """
import socket, sys, time
server = socket.socket()
server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
server.bind((sys.argv[1], int(sys.argv[2])))
server.listen(8)
held = []
while True:  # accept and never answer: an iperf3 server that hangs mid-handshake
    held.append(server.accept()[0])
"""


@pytest.mark.netns
def test_a_hanging_server_is_cut_off_the_client_killed_and_the_time_charged(site_topo: SiteTopology,
                                                                          tmp_path: Path) -> None:
    centre = site_topo.centre
    centre.start([sys.executable, "-c", SILENT_SERVER, SERVER, "5201"], name="silent",
                 ready=lambda: call_in_namespace(centre, lambda: tcp_port_open(SERVER, 5201)))
    task = throughput_task(duration=1, options={"omit_seconds": 0})
    started = time.monotonic()
    result = measure(site_topo, ThroughputProbe(ProbeContext(state_dir=tmp_path)), task)
    elapsed = time.monotonic() - started
    assert result.status is Status.FAILED
    assert result.reason == "upload: iperf3 did not finish within 5 s and was stopped"  # 1 connect + 1 + 3
    assert 5 <= elapsed < 6.5
    # no iperf3 left running in the site namespace (pgrep would see other people's too)
    pids = subprocess.run(["ip", "netns", "pids", site_topo.site.name], capture_output=True, text=True).stdout.split()
    commands = [Path(f"/proc/{pid}/comm").read_text().strip() for pid in pids if Path(f"/proc/{pid}").exists()]
    assert "iperf3" not in commands
    # paced to 30 Mbit/s for its 1 s, plus one 128 KiB write: the most it can have sent, charged
    assert result.values["bytes_used"] == 30e6 / 8 * 1 + 131072
    assert ByteBudget(tmp_path).used("throughput/leased", dt.date.today()) == 3_881_072
