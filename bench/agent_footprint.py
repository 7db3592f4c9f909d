"""Benchmark: the agent's steady-state memory and CPU, beside references measured in the same run.

    sudo .venv/bin/python bench/agent_footprint.py [--seconds 60] [--warmup 65]

Builds its own lab (site -> router -> centre, netmon.lab.topology) with the site router's
``snmpd``, an ``iperf3`` server and two stand-in platform web servers in the centre, and
the real collector there (SQLite only, HTTPS with a lab CA). Then it runs, one after the
other, each for ``--seconds`` after ``--warmup``:

1. a bare ``python3 -c 'sleep'`` (the interpreter's own floor);
2. ``netmon probe run`` with no probe tasks (runtime, outbox, shipping, /metrics only);
3. the same with icmp (LAN gateway and both links) and tcp tasks;
4. an ``examples/site.yaml``-like plan against the lab: those, plus snmp_if on both links,
   http on two platforms and a throughput task (hourly, so it does not run in the window);
   go-live surge intervals (icmp 10 s, tcp/http 30 s, snmp_if 60 s), shipping every 10 s.
   No scapy probes.

It samples each process's RSS (VmRSS) every second and its CPU (utime + stime) over the
window, and prints median/max RSS, CPU % of one core and results produced. Target: the
agent's RSS <= 50 MB. Everything it starts lives in its own namespaces and is removed.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from netmon.lab.collector import netmon_env
from netmon.lab.iperf import start_iperf3
from netmon.lab.netns import Lab, Proc, wait_until
from netmon.lab.platforms import start_platforms
from netmon.lab.procstat import cpu_seconds, rss_mib
from netmon.lab.snmpd import start_snmpd
from netmon.lab.topology import SiteTopology, build_site


def python_pid(proc: Proc) -> int:
    """``ip netns exec`` execs the command, so the Popen pid is the interpreter's."""
    return proc.pid


def measure(proc: Proc, warmup: float, seconds: float) -> dict[str, float]:
    time.sleep(warmup)
    pid = python_pid(proc)
    start_cpu, start = cpu_seconds(pid), time.monotonic()
    samples = []
    while time.monotonic() - start < seconds:
        samples.append(rss_mib(pid))
        time.sleep(1)
    cpu = cpu_seconds(pid) - start_cpu
    return {"rss_median_mb": statistics.median(samples), "rss_max_mb": max(samples),
            "cpu_percent": 100 * cpu / (time.monotonic() - start)}


def start_collector_if_available(topo: SiteTopology, workdir: Path) -> tuple[str, Path, Path] | None:
    try:
        from netmon.lab.collector import lab_site, start_collector, write_central, write_registry
    except ImportError:
        return None
    from netmon.lab.certs import make_ca

    registry = write_registry(workdir / "sites.yaml", [lab_site("26734")])
    (workdir / "centre").mkdir()
    ca = make_ca(workdir / "ca")  # HTTPS with a private CA, as a province runs it
    cert = ca.issue(workdir / "ca", "collector", [topo.leased.centre_ip])
    central = write_central(workdir / "centre", registry, host=topo.leased.centre_ip, port=8443,
                            tls=(cert.cert_path, cert.key_path))
    collector = start_collector(central, ns=topo.centre, ca_file=ca.cert_path)
    token = workdir / "token"
    token.write_text(collector.enrol("26734"))
    return collector.url, token, ca.cert_path


def agent_config(topo: SiteTopology, workdir: Path, name: str, collector: tuple[str, Path, Path] | None,
                 plan: str) -> Path:
    leased, tslcd = topo.leased, topo.tslcd
    config: dict[str, Any] = {
        "site": {"id": "26734", "name": "Phường Phước Tân", "province": "Đồng Nai"},
        "agent": {"metrics_port": 0},
        "state_dir": str(workdir / f"{name}-state"),
    }
    if collector is not None:
        config["collector"] = {"url": collector[0], "token_file": str(collector[1]), "ca_file": str(collector[2]),
                               "ship_interval": "10s"}
    if plan != "none":
        snmp = {"host": topo.gateway_ip, "version": "2c", "community": "netmon-lab"}
        config["links"] = [
            {"name": "lan", "kind": "lan", "probes": ["icmp"],
             "targets": [{"host": topo.gateway_ip, "name": "gateway"}]},
            {"name": "leased", "kind": "leased_line", "contracted_mbps": 20, "probes": ["icmp", "tcp"],
             "snmp": {**snmp, "if_name": "leased"},
             "targets": [{"host": leased.centre_ip, "name": "isp-edge", "port": 8443}]},
            {"name": "tslcd", "kind": "data_network", "contracted_mbps": 100, "probes": ["icmp"],
             "snmp": {**snmp, "if_name": "tslcd"},
             "targets": [{"host": tslcd.centre_ip, "name": "provincial-dc"}],
             "throughput": {"server": tslcd.centre_ip, "port": 5201, "max_bytes_per_day": "500MB"}},
        ]
        config["platforms"] = [
            {"name": "dvc", "system": "admin_procedures", "url": f"http://{leased.centre_ip}:8081/", "link": "leased"},
            {"name": "qlvb", "system": "document_management", "url": f"http://{tslcd.centre_ip}:8081/",
             "link": "tslcd"},
        ]
        config["probes"] = {"icmp": {"interval": "10s"}, "tcp": {"interval": "30s"}, "http": {"interval": "30s"},
                            "snmp_if": {"interval": "60s"}, "throughput": {"interval": "1h"}}
        if plan == "network":  # the same links, without the SNMP, throughput and platform probes
            config["platforms"] = []
            for link in config["links"]:
                link.pop("snmp", None)
                link.pop("throughput", None)
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def produced(proc: Proc) -> str:
    import re

    return str(len(re.findall(r"stored seq", proc.log()))) if "stored seq" in proc.log() else "-"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    # every task (snmp_if: 60 s) has run at least once before the window opens
    parser.add_argument("--warmup", type=float, default=65.0)
    args = parser.parse_args()
    rows = []
    with Lab() as lab, tempfile.TemporaryDirectory(prefix="netmon-bench-") as tmp:
        workdir = Path(tmp)
        topo = build_site(lab)
        start_snmpd(topo.router, topo.gateway_ip, workdir / "snmpd")
        start_iperf3(topo.centre, topo.tslcd.centre_ip)
        for host in (topo.leased.centre_ip, topo.tslcd.centre_ip):
            start_platforms(host, 8081, workdir / "platforms", ns=topo.centre)
        collector = start_collector_if_available(topo, workdir)

        bare = topo.site.start([sys.executable, "-c", "import time; time.sleep(3600)"], name="bare")
        rows.append(("bare python3 (sleep)", measure(bare, 2, min(args.seconds, 10)), "-"))
        bare.stop()
        for label, plan in (("netmon probe run, no probe tasks", "none"),
                            ("netmon probe run, icmp + tcp only", "network"),
                            ("netmon probe run, example-like plan", "example")):
            config = agent_config(topo, workdir, plan, collector, plan)
            argv = [sys.executable, "-m", "netmon", "probe", "run", "--config", str(config), "--log-level", "debug"]
            agent = topo.site.start(argv, name=f"agent-{plan}", env=netmon_env())
            wait_until(lambda a=agent: "metrics listening" in a.log() or not a.alive(), 30, what="agent start")  # type: ignore[misc]
            figures = measure(agent, args.warmup, args.seconds)
            rows.append((label, figures, produced(agent)))
            agent.stop()
    print(f"collector: {'real, HTTPS with a private CA, in the centre namespace' if collector else 'none'}; "
          f"window {args.seconds:.0f} s after {args.warmup:.0f} s warm-up")
    print(f"| {'process':38} | RSS median MB | RSS max MB | CPU % of a core | results stored |")
    print(f"|{'-' * 40}|---------------|------------|-----------------|----------------|")
    for label, fig, count in rows:
        print(f"| {label:38} | {fig['rss_median_mb']:13.1f} | {fig['rss_max_mb']:10.1f} | "
              f"{fig['cpu_percent']:15.2f} | {count:>14} |")


if __name__ == "__main__":
    main()
