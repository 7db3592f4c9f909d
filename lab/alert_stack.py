"""The full stack on the namespace testbed, for the end-to-end test and the full-stack benchmark.

One commune (``netmon.lab.topology.build_site``: leased line tbf-shaped to 20 Mbit/s with a
50 ms queue), Debian ``snmpd`` on its router, an ``iperf3`` server at the far end of the
leased line, the real collector (with alerting) in the centre namespace on the data-network
address, the real agent (``netmon probe run``: icmp + snmp_if) in the site namespace, and a
webhook receiver on the centre's loopback that timestamps what arrives.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import yaml

from netmon.lab.agent import start_agent
from netmon.lab.collector import CollectorProcess, start_collector, write_central, write_registry
from netmon.lab.iperf import start_iperf3
from netmon.lab.netns import Proc, call_in_namespace
from netmon.lab.platforms import start_platforms
from netmon.lab.snmpd import start_snmpd
from netmon.lab.standins import WebhookReceiver
from netmon.lab.topology import SiteTopology

SITE = {"id": "26734", "name": "Phường Tân Phong", "province": "Đồng Nai", "district": "Biên Hòa",
        "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": 20},
                  {"name": "tslcd", "kind": "data_network", "contracted_mbps": 100}]}
IPERF_PORT = 5301


@dataclasses.dataclass(frozen=True)
class Timing:
    for_s: float = 10
    icmp_s: float = 2
    snmp_s: float = 6
    snmp_align_s: float = 3.5
    ship_s: float = 1
    group_wait_s: float = 2


def rules(timing: Timing) -> str:
    return f"""\
rules:
  - name: LinkUtilisationHigh
    probe: snmp_if
    value: utilisation_ratio
    warning: 0.80
    critical: 0.95
    clear: 0.70
    for: {timing.for_s}s
  - name: LinkRttHigh
    probe: icmp
    value: rtt_avg_seconds
    link_kind: leased_line
    warning: 0.020
    critical: 0.100
    clear: 0.010
    for: {timing.for_s}s
"""


class TimedHook(WebhookReceiver):
    def answer(self, request: dict[str, Any]) -> tuple[int, Any, dict[str, str]]:
        request["at"] = time.time()
        return super().answer(request)

    def arrivals(self) -> list[tuple[float, Any]]:
        with self.lock:
            return [(r["at"], r["body"]) for r in self.requests if 200 <= r["status"] < 300]

    def notices(self) -> list[tuple[str, str, float]]:
        """(status, alertname, arrival) of every alert in every delivered message."""
        return [(a["status"], a["labels"]["alertname"], at) for at, body in self.arrivals() for a in body["alerts"]]


def agent_config(path: Path, collector_url: str, token_file: Path, timing: Timing) -> Path:
    config: dict[str, Any] = {
        "site": {k: SITE[k] for k in ("id", "name", "province", "district")},
        "state_dir": str(path.parent / "agent-state"),
        "agent": {"metrics_port": 0, "heartbeat_interval": 5},
        "collector": {"url": collector_url, "token_file": str(token_file), "ship_interval": f"{timing.ship_s}s",
                      "insecure_http": collector_url.startswith("http://")},
        "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": 20, "probes": ["icmp"],
                   "targets": [{"host": "10.77.2.2", "name": "isp-edge"}],
                   "snmp": {"host": "10.77.1.1", "version": "2c", "community": "netmon-lab", "if_name": "leased",
                            "timeout": 0.5, "retries": 0}}],
        "probes": {"icmp": {"interval": f"{timing.icmp_s}s", "timeout": "1.5s", "count": 5, "spacing": "50ms",
                            "reply_timeout": "1s"},
                   "snmp_if": {"interval": f"{timing.snmp_s}s", "timeout": "5s",
                               "align_seconds": f"{timing.snmp_align_s}s"}},
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


@dataclasses.dataclass
class Stack:
    topo: SiteTopology
    hook: TimedHook
    collector: CollectorProcess
    agent: Proc
    timing: Timing

    def load(self, seconds: float, rate: str = "30M") -> Proc:
        """UDP at 1.5x the contracted rate from the office through the site router's leased line."""
        return self.topo.site.start(["iperf3", "-c", self.topo.leased.centre_ip, "-p", str(IPERF_PORT), "-u", "-b",
                                     rate, "-t", str(int(seconds))], name="iperf3-load")

    def close(self) -> None:
        self.hook.close()


def start_stack(topo: SiteTopology, workdir: Path, timing: Timing = Timing()) -> Stack:
    start_snmpd(topo.router, "10.77.1.1", workdir / "snmpd")
    start_iperf3(topo.centre, topo.leased.centre_ip, IPERF_PORT)
    hook = call_in_namespace(topo.centre, TimedHook)  # the collector reaches it on the centre's loopback
    try:
        rules_file = workdir / "rules.yaml"
        rules_file.write_text(rules(timing))
        registry = write_registry(workdir / "sites.yaml", [SITE],
                                  provinces=[{"name": "Đồng Nai", "default_team": "rrt-dong-nai"}])
        central = write_central(
            workdir, registry, host=topo.tslcd.centre_ip, port=8090, grafana_url="http://grafana.lab",
            alerting={"rules_file": str(rules_file), "group_wait": f"{timing.group_wait_s}s",
                      "channels": [{"name": "hook", "type": "webhook", "url": f"{hook.url}/alerts"}],
                      "teams": [{"name": "rrt-dong-nai", "province": "Đồng Nai", "channels": ["hook"]}]})
        collector = start_collector(central, ns=topo.centre)
        token_file = workdir / "site.token"
        token_file.write_text(collector.enrol(str(SITE["id"])) + "\n")
        agent = start_agent(topo.site, agent_config(workdir / "site.yaml", collector.url, token_file, timing),
                            debug=False)
    except BaseException:
        hook.close()
        raise
    return Stack(topo, hook, collector, agent, timing)


# -- an uplink loss: the site silent, its backlog arriving late -------------------------------

PLATFORM_NAMES = ("dvc", "qlvb", "hop")
PLATFORM_PORT = 8081


@dataclasses.dataclass(frozen=True)
class OutageTiming:
    ship_s: float = 1
    silent_after_intervals: int = 6   # SiteSilent after 6 s without a batch
    for_s: float = 10                 # LinkDown, PlatformUnreachable
    late_margin_s: float = 3          # late: older than ship_s + late_margin_s on arrival
    group_wait_s: float = 2


def outage_rules(timing: OutageTiming) -> str:
    """The go-live rules a silent site trips, with the demo's short timers."""
    return f"""\
rules:
  - {{name: LinkDown, probe: icmp, value: loss_ratio, critical: 1.0, clear: 0.5, for: {timing.for_s}s, storm: true}}
  - {{name: PlatformUnreachable, probe: http, status: [failed], severity: critical, for: {timing.for_s}s,
     aggregate: target}}
  - {{name: SiteSilent, type: absence, after_intervals: {timing.silent_after_intervals}, severity: critical,
     storm: true, inhibits: ["*"], inhibit_equal: [site]}}
"""


def outage_agent_config(path: Path, collector_url: str, token_file: Path, timing: OutageTiming) -> Path:
    config: dict[str, Any] = {
        "site": {k: SITE[k] for k in ("id", "name", "province", "district")},
        "state_dir": str(path.parent / "agent-state"),
        "agent": {"metrics_port": 0, "heartbeat_interval": f"{timing.ship_s}s"},
        # a thin line's drain: the backlog of a 25 s outage arrives over several batches and seconds
        "collector": {"url": collector_url, "token_file": str(token_file), "ship_interval": f"{timing.ship_s}s",
                      "request_timeout": "2s", "batch_max_results": 25, "drain_max_results_per_second": 25,
                      "insecure_http": collector_url.startswith("http://")},
        "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": 20, "probes": ["icmp"],
                   "targets": [{"host": "10.77.2.2", "name": "isp-edge"}]},
                  {"name": "tslcd", "kind": "data_network", "contracted_mbps": 100, "probes": ["icmp"],
                   "targets": [{"host": "10.77.3.2", "name": "provincial-dc"}]}],
        "platforms": [{"name": name, "system": "other", "url": f"http://10.77.3.2:{PLATFORM_PORT}/{name}/"}
                      for name in PLATFORM_NAMES],
        "probes": {"icmp": {"interval": "1s", "timeout": "0.9s", "count": 3, "spacing": "50ms",
                            "reply_timeout": "500ms"},
                   "http": {"interval": "1s", "timeout": "0.8s"}},
    }
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    return path


def start_outage_stack(topo: SiteTopology, workdir: Path, timing: OutageTiming = OutageTiming()) -> Stack:
    """The commune with icmp over both links and three platforms, its collector alerting to a webhook."""
    start_platforms(topo.tslcd.centre_ip, PLATFORM_PORT, workdir / "platforms", ns=topo.centre)
    hook = call_in_namespace(topo.centre, TimedHook)
    try:
        rules_file = workdir / "rules.yaml"
        rules_file.write_text(outage_rules(timing))
        registry = write_registry(workdir / "sites.yaml", [SITE],
                                  provinces=[{"name": "Đồng Nai", "default_team": "rrt-dong-nai"}])
        wait = f"{timing.group_wait_s}s"
        central = write_central(
            workdir, registry, host=topo.tslcd.centre_ip, port=8090, expected_ship_interval=f"{timing.ship_s}s",
            alerting={"rules_file": str(rules_file), "group_wait": wait, "late_margin": f"{timing.late_margin_s}s",
                      "storm": {"wait": wait}, "platform": {"wait": wait},
                      "channels": [{"name": "hook", "type": "webhook", "url": f"{hook.url}/alerts"}],
                      "teams": [{"name": "rrt-dong-nai", "province": "Đồng Nai", "channels": ["hook"]}]})
        collector = start_collector(central, ns=topo.centre)
        token_file = workdir / "site.token"
        token_file.write_text(collector.enrol(str(SITE["id"])) + "\n")
        agent = start_agent(topo.site, outage_agent_config(workdir / "site.yaml", collector.url, token_file, timing),
                            debug=False)
    except BaseException:
        hook.close()
        raise
    return Stack(topo, hook, collector, agent, Timing(for_s=timing.for_s, ship_s=timing.ship_s,
                                                      group_wait_s=timing.group_wait_s))
