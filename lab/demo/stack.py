"""Start and stop everything the demo runs: the province's namespaces (or, with ``loopback``, plain
processes on 127.0.0.1), the collector, InfluxDB, the reflector, the platform stand-in, iperf3,
one snmpd per router and one real agent per commune.

Every process is owned here: namespace processes by the ``Lab`` (killed, then the namespaces
deleted, by ``Lab.close``), loopback processes by ``Stack.procs``. ``close()`` is idempotent.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import shutil
import signal
import sys
from pathlib import Path
from typing import Any

from netmon.lab.collector import (
    CollectorProcess,
    enrol,
    influx_settings,
    netmon_argv,
    netmon_env,
    start_collector,
    write_central,
    write_registry,
)
from netmon.lab.demo import channels, plan
from netmon.lab.iperf import start_iperf3
from netmon.lab.netns import Lab, Namespace, Proc
from netmon.lab.platforms import start_platforms
from netmon.lab.province import ISP_EDGE, PROVINCIAL_DC, Commune, Province, build_province
from netmon.lab.relay import LoopbackRelay
from netmon.lab.services import Server, spawn, start_influxdb
from netmon.lab.snmpd import start_snmpd
from netmon.lab.topology import free_port


@dataclasses.dataclass
class Site:
    spec: plan.CommuneSpec
    agent: Proc
    commune: Commune | None  # None in loopback mode

    @property
    def client_prefix(self) -> str:
        """How the platform stand-in recognises this commune's requests."""
        return f"{self.commune.net}.1." if self.commune is not None else "127."


@dataclasses.dataclass
class Stack:
    workdir: Path
    loopback: bool
    lab: Lab | None = None
    province: Province | None = None
    collector: CollectorProcess | None = None
    influx: Server | None = None
    sites: list[Site] = dataclasses.field(default_factory=list)
    procs: list[Proc] = dataclasses.field(default_factory=list)
    load: dict[str, Proc] = dataclasses.field(default_factory=dict)
    control_file: Path = Path()
    central_config: Path = Path()
    icmp: bool = True  # False: loopback mode, and this user may not send ICMP echo
    alert_channels: list[str] = dataclasses.field(default_factory=list)
    relay: LoopbackRelay | None = None
    _closed: bool = False

    @property
    def centre(self) -> Namespace | None:
        return self.province.centre if self.province is not None else None

    def api(self, path: str) -> Any:
        assert self.collector is not None
        return self.collector.get_json(path)

    def run_in_centre(self, argv: list[str], timeout: float = 120) -> tuple[int, str]:
        """A netmon command where the collector's files and InfluxDB are reachable."""
        import subprocess
        full = self.centre.argv(argv) if self.centre is not None else argv
        out = subprocess.run(full, capture_output=True, text=True, timeout=timeout, env=netmon_env())
        return out.returncode, (out.stdout + out.stderr)

    # --- scenario actions -------------------------------------------------------------
    def saturate(self, site: Site, seconds: float) -> bool:
        """UDP at twice the leased line's contracted rate through the commune's router, bounded in time."""
        if site.commune is None:
            return False
        rate = f"{site.spec.leased_mbit * 2:g}M"
        self.load[site.spec.site_id] = site.commune.site.start(
            ["iperf3", "-c", ISP_EDGE, "-p", str(plan.IPERF_PORT), "-u", "-b", rate, "-l", "1200",
             "-t", f"{max(1, int(seconds))}"], name="iperf3-load")
        return True

    def stop_load(self, site: Site) -> None:
        proc = self.load.pop(site.spec.site_id, None)
        if proc is not None:
            proc.stop(timeout=3)

    def set_uplink(self, site: Site, up: bool) -> None:
        if site.commune is not None and self.province is not None:
            self.province.set_uplink_down(site.commune, down=not up)
        else:  # loopback: the agent freezes, which the centre sees exactly like a dead line
            site.agent.signal(signal.SIGCONT if up else signal.SIGSTOP)

    def set_platform_slow(self, sites: list[Site], delay_seconds: float) -> None:
        rules = {"slow": {s.client_prefix: delay_seconds for s in sites}} if sites else {}
        tmp = self.control_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(rules))
        tmp.replace(self.control_file)

    # --- lifecycle --------------------------------------------------------------------
    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for site in self.sites:  # a frozen agent cannot act on SIGTERM
            with contextlib.suppress(Exception):
                site.agent.signal(signal.SIGCONT)
        for proc in [*self.load.values(), *(s.agent for s in self.sites), *reversed(self.procs)]:
            with contextlib.suppress(Exception):
                proc.stop(timeout=5)
        if self.collector is not None:
            with contextlib.suppress(Exception):
                self.collector.stop()
        if self.relay is not None:
            self.relay.close()
        if self.lab is not None:
            self.lab.close()


def _agent_argv(config: Path) -> list[str]:
    return netmon_argv("probe", "run", "--config", str(config))


def _central(stack: Stack, specs: list[plan.CommuneSpec], host: str, port: int, *, webhook: str | None,
             alerting_extra: dict[str, Any] | None, for_seconds: int) -> Path:
    registry = write_registry(stack.workdir / "sites.yaml", [plan.registry_entry(s) for s in specs])
    sections: dict[str, Any] = {}
    sections["expected_ship_interval"] = f"{plan.SHIP_INTERVAL_SECONDS:g}s"
    rules = plan.demo_rules(stack.workdir / "rules.yaml", for_seconds)
    section = channels.alerting_section(rules_file=str(rules), console_log=str(stack.workdir.parent / "alerts.log"),
                                        webhook=webhook, extra=alerting_extra)
    sections["alerting"] = section
    stack.alert_channels = [f"{c['name']} ({c['type']})" for c in section["channels"]]
    if stack.centre is not None:  # its loopback is not this machine's: relay loopback channels into it
        stack.relay = LoopbackRelay(stack.centre, channels.loopback_endpoints(section))
    influx = influx_settings(stack.influx, "v1") if stack.influx is not None else None
    return write_central(stack.workdir, registry, host=host, port=port, influx=influx, **sections)


def build(workdir: Path, specs: list[plan.CommuneSpec], *, loopback: bool, webhook: str | None = None,
          alerting_extra: dict[str, Any] | None = None, for_seconds: int = 5, stack: Stack | None = None) -> Stack:
    """Bring the whole province up. Pass ``stack`` (an empty one) so a failure half-way can still be
    cleaned up by the caller with ``stack.close()``."""
    stack = stack or Stack(workdir=workdir, loopback=loopback)
    workdir.mkdir(parents=True, exist_ok=True)
    stack.control_file = workdir / "platform-control.json"
    stack.control_file.write_text("{}")
    py = sys.executable
    if loopback:
        stack.icmp = plan.icmp_permitted()
        # root-namespace processes get the same import path the lab gives namespace ones
        os.environ["PYTHONPATH"] = netmon_env()["PYTHONPATH"]
        host = "127.0.0.1"
        if shutil.which("influxd"):
            stack.influx = start_influxdb(workdir / "influx")
            stack.procs.append(stack.influx.proc)
        stack.central_config = _central(stack, specs, host, free_port(host), webhook=webhook,
                                        alerting_extra=alerting_extra, for_seconds=for_seconds)
        platform_port, reflector_port = free_port(host), free_port(host)
        stack.procs.append(start_platforms(host, platform_port, workdir, control=stack.control_file).proc)
        stack.procs.append(spawn([py, "-m", "netmon", "reflector", "serve", "--host", host, "--port",
                                  str(reflector_port)], workdir / "reflector.log", name="reflector",
                                 ready=lambda: "listening" in Path(workdir / "reflector.log").read_text()))
        stack.collector = start_collector(stack.central_config)
        for spec in specs:
            cfg = _site_files(stack, spec, isp_edge=host, dc=host, platform_base=f"http://{host}:{platform_port}",
                              gateway=None, reflector_port=reflector_port)
            agent = spawn(_agent_argv(cfg), workdir / f"agent-{spec.site_id}.log", name=f"agent-{spec.site_id}")
            stack.sites.append(Site(spec, agent, None))
        return stack

    stack.lab = Lab(workdir=workdir / "lab")
    stack.lab.workdir.mkdir(parents=True, exist_ok=True)
    stack.province = build_province(stack.lab, [(s.leased_mbit, s.tslcd_mbit) for s in specs])
    centre = stack.province.centre
    if shutil.which("influxd"):
        stack.influx = start_influxdb(workdir / "influx", host="127.0.0.1", ns=centre)
    stack.central_config = _central(stack, specs, PROVINCIAL_DC, plan.COLLECTOR_PORT, webhook=webhook,
                                    alerting_extra=alerting_extra, for_seconds=for_seconds)
    start_platforms("0.0.0.0", plan.PLATFORM_PORT, workdir, ns=centre, control=stack.control_file)
    reflector = centre.start([py, "-m", "netmon", "reflector", "serve", "--host", "0.0.0.0", "--port",
                              str(plan.REFLECTOR_PORT)], name="reflector", env=netmon_env())
    reflector_ready = lambda: "listening" in reflector.log()  # noqa: E731
    start_iperf3(centre, ISP_EDGE, plan.IPERF_PORT)
    if stack.relay is not None:  # after the centre's own services, so a port clash names the relayed port
        stack.relay.start()
    stack.collector = start_collector(stack.central_config, ns=centre)
    from netmon.lab.netns import wait_until
    wait_until(reflector_ready, 15, what="the reflector")
    for spec, commune in zip(specs, stack.province.communes, strict=True):
        start_snmpd(commune.router, commune.gateway_ip, workdir / f"snmpd-{spec.site_id}")
        cfg = _site_files(stack, spec, isp_edge=ISP_EDGE, dc=PROVINCIAL_DC,
                          platform_base=f"http://{PROVINCIAL_DC}:{plan.PLATFORM_PORT}", gateway=commune.gateway_ip,
                          reflector_port=plan.REFLECTOR_PORT)
        agent = commune.site.start(_agent_argv(cfg), name=f"agent-{spec.site_id}", env=netmon_env())
        stack.sites.append(Site(spec, agent, commune))
    return stack


def _site_files(stack: Stack, spec: plan.CommuneSpec, *, isp_edge: str, dc: str, platform_base: str,
                gateway: str | None, reflector_port: int) -> Path:
    assert stack.collector is not None
    site_dir = stack.workdir / "sites" / spec.site_id
    site_dir.mkdir(parents=True, exist_ok=True)
    token_file = site_dir / "token"
    token_file.write_text(enrol(stack.central_config, spec.site_id) + "\n")
    token_file.chmod(0o600)
    config = plan.site_config(spec, collector_url=stack.collector.url, token_file=token_file,
                              state_dir=site_dir / "state", isp_edge=isp_edge, provincial_dc=dc,
                              platform_base=platform_base, gateway=gateway, icmp=stack.icmp)
    config["probes"]["udp_echo"]["port"] = reflector_port
    return plan.write_yaml(site_dir / "site.yaml", config)
