"""A throughput test never loads a line that is busy or of unknown load, and never spends more
than its byte budget: on the namespace testbed, with Debian's snmpd on the site router and
iperf3 both as the line's other traffic and as the probe's server."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client.parser import text_string_to_metric_families

from netmon.config.site import SiteConfig
from netmon.contract import Observation, ProbeKind, Status
from netmon.lab.iperf import IperfServer, start_iperf3
from netmon.lab.netns import Lab, Namespace, call_in_namespace, wait_until
from netmon.lab.snmpd import start_snmpd
from netmon.lab.topology import SiteTopology
from netmon.probes.base import ProbeContext, ProbeTask
from netmon.probes.kinds import default_kinds
from netmon.probes.plan import build_tasks
from netmon.probes.snmp_if.counters import Sample
from netmon.probes.throughput import ThroughputProbe
from netmon.probes.throughput.load import others_during
from tests.agent.helpers import fetch, metrics_url, start_agent
from tests.conftest import netmon_argv, netmon_env

SITE = {"id": "26734", "name": "Phường Phước Tân", "province": "Đồng Nai"}
SERVER = "10.77.2.2"  # centre end of the leased line
SNMP = {"host": "10.77.1.1", "version": "2c", "community": "netmon-lab", "if_name": "leased", "timeout": 0.5,
        "retries": 0}


def site_config(tmp_path: Path, throughput: dict[str, Any] | None = None, probes: dict[str, Any] | None = None,
                snmp: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "site": SITE, "state_dir": str(tmp_path / "state"), "agent": {"metrics_port": 0, "heartbeat_interval": 3600},
        "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": 20, "probes": [], "snmp": snmp or SNMP,
                   "throughput": {"server": SERVER, "port": 5201, "duration": 2, **(throughput or {})}}],
        "probes": {"throughput": {"timeout": 40, "connect_timeout": 1}, "snmp_if": {"timeout": 6},
                   **(probes or {})},
    }


def throughput_task(config: dict[str, Any]) -> ProbeTask:
    (task,) = [t for t in build_tasks(SiteConfig.model_validate(config), default_kinds())
               if t.kind is ProbeKind.THROUGHPUT]
    return task


def measure(topo: SiteTopology, probe: ThroughputProbe, task: ProbeTask) -> Observation:
    async def once() -> Observation:
        try:
            return await probe.measure(task)
        finally:
            await probe.aclose()

    return call_in_namespace(topo.site, lambda: asyncio.run(once()))


def saturate(topo: SiteTopology, seconds: int = 60) -> IperfServer:
    """Other traffic at 1.5x the 20 Mbit/s line, from the office to the centre: the router's tbf is full."""
    server = start_iperf3(topo.centre, SERVER, 5202)
    topo.site.start(["iperf3", "-c", SERVER, "-p", "5202", "-u", "-b", "30M", "-l", "1400", "-t", str(seconds)],
                    name="office-traffic")
    time.sleep(1.5)  # past iperf3's start
    return server


def was_tested(server: IperfServer) -> bool:
    """Whether anything ran a test against the probe's iperf3 server."""
    return "Accepted connection" in server.proc.log()


@pytest.fixture
def probe_server(site_topo: SiteTopology, lab: Lab) -> IperfServer:
    start_snmpd(site_topo.router, SNMP["host"], lab.workdir / "snmpd")
    return start_iperf3(site_topo.centre, SERVER, 5201)


def test_probe_once_on_a_saturated_line_skips_with_the_reason(site_topo: SiteTopology, probe_server: IperfServer,
                                                              tmp_path: Path) -> None:
    saturate(site_topo)
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(site_config(tmp_path), allow_unicode=True), encoding="utf-8")
    run = subprocess.run(site_topo.site.argv(netmon_argv("probe", "once", "--config", str(path), "--json")),
                         env=netmon_env(), capture_output=True, text=True, timeout=90)
    assert run.returncode == 0, run.stderr
    records = {r["probe"]: r for r in map(json.loads, run.stdout.splitlines())}
    result = records["throughput"]
    assert result["status"] == "ok" and result["info"] == {"skipped": "busy"}, result
    assert result["reason"].startswith("link busy at 10"), result["reason"]  # 100 % or a hair above
    # the probe's own reading: two samples at snmpd's counter refresh, about 5 s apart
    assert re.search(r"% of contracted rate \(threshold 50 %, SNMP read over [5-9]\.\d s just now: in \d+\.\d\d, "
                     r"out (19\.9|20\.[0-5])\d Mbit/s\): no test now$", result["reason"]), result["reason"]
    assert set(result["values"]) == {"budget_remaining_bytes", "contracted_bps"}
    assert not was_tested(probe_server)


def test_with_snmpd_stopped_the_test_is_skipped_with_the_reason(site_topo: SiteTopology, lab: Lab,
                                                                tmp_path: Path) -> None:
    probe_server = start_iperf3(site_topo.centre, SERVER, 5201)
    start_snmpd(site_topo.router, SNMP["host"], lab.workdir / "snmpd").stop()
    task = throughput_task(site_config(tmp_path))
    result = measure(site_topo, ThroughputProbe(ProbeContext(state_dir=tmp_path)), task)
    assert result.status is Status.OK and result.info == {"skipped": "load_unknown"}
    assert result.reason == ("link load unknown (SNMP: SNMP agent 10.77.1.1:161 did not answer within 0.5 s "
                             "(0 retries): agent down, unreachable, or wrong community/credentials): no test")
    assert "upload_bps" not in result.values and not was_tested(probe_server)

    # no snmp section at all: nothing to read the load from, so no test either, unless the link says so
    blind = site_config(tmp_path)
    del blind["links"][0]["snmp"]
    result = measure(site_topo, ThroughputProbe(ProbeContext(state_dir=tmp_path)), throughput_task(blind))
    assert result.info == {"skipped": "load_unknown"}
    assert result.reason == "link load unknown (the link has no snmp section to read it from): no test"
    blind["links"][0]["throughput"]["when_load_unknown"] = "test"
    result = measure(site_topo, ThroughputProbe(ProbeContext(state_dir=tmp_path)), throughput_task(blind))
    assert result.status is Status.OK and "upload_bps" in result.values, result.reason
    assert result.info["load"] == ("not read (the link has no snmp section to read it from); tested anyway "
                                   "(when_load_unknown: test)")


def outbox_bodies(state_dir: Path, probe: str) -> list[dict[str, Any]]:
    db = sqlite3.connect(state_dir / "outbox.sqlite3")
    try:
        return [json.loads(body) for (body,) in db.execute("SELECT body FROM results WHERE probe = ? ORDER BY seq",
                                                           (probe,))]
    finally:
        db.close()


def test_the_agent_starting_on_a_saturated_line_tests_nothing_before_a_load_reading(
        site_topo: SiteTopology, probe_server: IperfServer, tmp_path: Path) -> None:
    saturate(site_topo, seconds=90)
    # snmp_if every 60 s gives its first rate a minute in at best: the throughput task (every
    # 20 s, first run within 20 s of start) fires before it, as after any agent start
    config = site_config(tmp_path, probes={"throughput": {"interval": 20, "timeout": 40, "connect_timeout": 1},
                                           "snmp_if": {"interval": 60, "timeout": 6}})
    path = tmp_path / "site.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    agent = start_agent(site_topo.site, path)
    state = tmp_path / "state"
    wait_until(lambda: (state / "outbox.sqlite3").exists() and bool(outbox_bodies(state, "throughput")), 60,
               what="the agent's first throughput result")
    first = outbox_bodies(state, "throughput")[0]
    assert first["status"] == "ok" and first["info"] == {"skipped": "busy"}, first
    assert re.search(r"SNMP read over [5-9]\.\d s just now", first["reason"]), first["reason"]
    assert not was_tested(probe_server)
    url = metrics_url(agent)
    assert url is not None
    samples = {(s.name, tuple(sorted(s.labels.items()))): s.value
               for family in text_string_to_metric_families(fetch(site_topo.site, url)) for s in family.samples}
    assert samples[("netmon_agent_throughput_budget_remaining_bytes", (("link", "leased"),))] == 500e6


def interface_bytes(ns: Namespace, dev: str) -> int:
    stats = Path("/sys/class/net") / dev / "statistics"
    return sum(int(ns.run("cat", str(stats / name)).stdout) for name in ("rx_bytes", "tx_bytes"))


def test_an_unshaped_fast_path_with_a_small_budget_moves_no_more_than_the_budget(
        site_topo: SiteTopology, probe_server: IperfServer, tmp_path: Path) -> None:
    site_topo.unshape(site_topo.leased)  # the path runs at veth speed, far above its 20 Mbit/s contract
    budget = 30_000_000
    task = throughput_task(site_config(tmp_path, throughput={"max_bytes_per_day": budget}))
    dev = site_topo.leased.router_if
    before = interface_bytes(site_topo.router, dev)
    results = [measure(site_topo, ThroughputProbe(ProbeContext(state_dir=tmp_path)), task) for _ in range(3)]
    moved = interface_bytes(site_topo.router, dev) - before
    print(f"kernel counted {moved} bytes on {dev}; probe charged {results[0].values.get('bytes_used')}")
    first, *rest = results
    assert first.status is Status.OK and "upload_bps" in first.values, first.reason
    # paced to 1.5 x 20 Mbit/s: it shows the line carries at least that, and moves no more
    assert first.values["upload_bps"] == pytest.approx(30e6, rel=0.05)
    assert first.info["upload_capped"] == "reached the test's rate cap (30 Mbit/s): the line carries at least that"
    for refused in rest:
        assert refused.info == {"skipped": "budget"}, refused.reason
    assert moved <= budget
    # what was charged is what crossed the link, less the headers the kernel counts too
    assert 0.85 * moved <= first.values["bytes_used"] <= moved


def _sample(t: float, in_octets: int, out_octets: int) -> Sample:
    return Sample(if_index=3, monotonic_seconds=t, wall_ns=int(t * 1e9), sys_uptime_ticks=100_000 + int(t * 100),
                  discontinuity_ticks=0, in_octets=in_octets, out_octets=out_octets, high_speed_mbps=10_000)


def test_traffic_that_was_not_the_test_is_told_apart_from_the_test() -> None:
    # 10 s: our upload moved 10 MB (8 Mbit/s), the download 20 MB; the interface counted more
    ours_only = others_during(_sample(0, 0, 0), _sample(10, int(20e6 * 1.05 + 10e6 * 0.05), int(10e6 * 1.05)),
                              20e6, upload_bytes=10_000_000, download_bytes=20_000_000)
    assert ours_only is not None and ours_only[0] == pytest.approx(0.0, abs=0.01)
    busy = others_during(_sample(0, 0, 0), _sample(10, int(20e6 * 1.05 + 10e6 * 0.05 + 12.5e6), 10_500_000),
                         20e6, upload_bytes=10_000_000, download_bytes=20_000_000)
    assert busy is not None and busy[0] == pytest.approx(0.5, abs=0.01)  # 10 Mbit/s more arriving than ours


def test_a_line_that_turns_busy_mid_test_is_marked_not_reported_as_its_capacity(
        site_topo: SiteTopology, probe_server: IperfServer, tmp_path: Path) -> None:
    start_iperf3(site_topo.centre, SERVER, 5202)
    # the office starts sending 8 Mbit/s of its own about 2 s into the test (reading the quiet
    # line takes 3.5 + 5 s: an idle sample waits the whole align_seconds) and goes on past its end
    site_topo.site.start(["sh", "-c", f"sleep 10.5; exec iperf3 -c {SERVER} -p 5202 -u -b 8M -l 1400 -t 15"],
                         name="office-traffic")
    config = site_config(tmp_path, probes={"throughput": {"timeout": 40, "connect_timeout": 1,
                                                          "load_align_seconds": 3.5}})
    result = measure(site_topo, ThroughputProbe(ProbeContext(state_dir=tmp_path)), throughput_task(config))
    print(result.status.value, result.reason, result.values, result.info)
    assert result.status is Status.DEGRADED, (result.reason, result.info)
    assert result.reason is not None and result.reason.startswith(
        "the line turned busy during the test: the figures are what other traffic left, not the line's capacity (")
    assert {"upload_leftover_bps", "download_leftover_bps"} <= set(result.values)
    assert not {"upload_bps", "upload_ratio", "download_ratio"} & set(result.values)
    assert result.info["load"].startswith("0 % before the test")
    assert " % of the contracted rate was other traffic: over the " in result.info["busy_during_test"]
