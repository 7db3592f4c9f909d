"""What the demo builds: communes with their contracted rates, each site's agent config, the
central registry and ``central.yaml`` — all as plain data written to the output folder."""

from __future__ import annotations

import dataclasses
import math
import re
import socket
from pathlib import Path
from typing import Any

import yaml

PROVINCE = "Đồng Nai"
COLLECTOR_PORT = 8080
PLATFORM_PORT = 8081
REFLECTOR_PORT = 8765
IPERF_PORT = 5201
PLATFORMS = (("dvc", "admin_procedures"), ("qlvb", "document_management"), ("hop", "online_meeting"),
             ("lgsp", "data_sharing"), ("baocao", "reporting"))
_NAMES = ("Phước Tân", "Tam Phước", "An Phước", "Long Thành", "Bình An", "Phước Thái", "Long Phước",
          "Bàu Cạn", "Tân Hiệp", "Cẩm Đường", "Lộc An", "Bình Sơn", "Suối Trầu", "Long Đức", "Long An")
# (leased, data network) contracted Mbit/s; every third commune has the thin lines of a remote one.
_RATES = ((20.0, 10.0), (10.0, 8.0), (4.0, 2.0))
SHIP_INTERVAL_SECONDS = 2.0
HEARTBEAT_SECONDS = 2
READINESS_BUCKET_SECONDS = 5  # two or three heartbeats per bucket; a frozen agent empties some


@dataclasses.dataclass(frozen=True)
class CommuneSpec:
    index: int
    leased_mbit: float
    tslcd_mbit: float

    @property
    def site_id(self) -> str:
        return f"99{self.index:03d}"

    @property
    def name(self) -> str:
        base = _NAMES[(self.index - 1) % len(_NAMES)]
        return f"Xã {base}" if self.index <= len(_NAMES) else f"Xã {base} {self.index}"

    @property
    def label(self) -> str:
        return f"{self.name} ({self.site_id})"


def communes(count: int) -> list[CommuneSpec]:
    return [CommuneSpec(i, *_RATES[(i - 1) % len(_RATES)]) for i in range(1, count + 1)]


def registry_entry(spec: CommuneSpec) -> dict[str, Any]:
    return {"id": spec.site_id, "name": spec.name, "province": PROVINCE, "district": "Long Thành",
            "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": spec.leased_mbit},
                      {"name": "tslcd", "kind": "data_network", "contracted_mbps": spec.tslcd_mbit}]}


def icmp_permitted() -> bool:
    """Whether this user may send ICMP echo: root (raw sockets), or a group in net.ipv4.ping_group_range."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_RAW):
        try:
            socket.socket(socket.AF_INET, kind, socket.IPPROTO_ICMP).close()
            return True
        except OSError:
            continue
    return False


def probe_options(loopback: bool, icmp: bool = True) -> dict[str, dict[str, Any]]:
    """Short intervals so a four-minute story shows several samples per phase."""
    echo = {"interval": "3s", "timeout": "2.5s", "count": 5, "spacing": "0.1s", "reply_timeout": "1s"}
    probes: dict[str, dict[str, Any]] = {"udp_echo": {**echo, "port": REFLECTOR_PORT},
                                         "http": {"interval": "4s", "timeout": "8s"}}
    if icmp:
        probes["icmp"] = dict(echo)
    if not loopback:
        # an aligned sample: two requests (0.5 s, no retry, on the lab LAN) and snmpd's ~3 s refresh
        probes["snmp_if"] = {"interval": "5s", "timeout": "4.5s", "align_seconds": "3.5s"}
    return probes


def site_config(spec: CommuneSpec, *, collector_url: str, token_file: Path, state_dir: Path,
                isp_edge: str, provincial_dc: str, platform_base: str, gateway: str | None,
                icmp: bool = True) -> dict[str, Any]:
    """The agent's site.yaml. ``gateway`` is the router's LAN address (SNMP); None in loopback mode.
    Without ``icmp`` (a user that may not send ICMP echo, in loopback mode) the links use udp_echo."""
    leased: dict[str, Any] = {"name": "leased", "kind": "leased_line", "contracted_mbps": spec.leased_mbit,
                              "targets": [{"host": isp_edge, "name": "isp-edge"}],
                              "probes": ["icmp", "udp_echo"] if icmp else ["udp_echo"]}
    tslcd: dict[str, Any] = {"name": "tslcd", "kind": "data_network", "contracted_mbps": spec.tslcd_mbit,
                             "targets": [{"host": provincial_dc, "name": "provincial-dc"}],
                             "probes": ["icmp"] if icmp else ["udp_echo"]}
    if gateway is not None:
        for link in (leased, tslcd):
            link["snmp"] = {"host": gateway, "version": "2c", "community": "netmon-lab", "if_name": link["name"],
                            "timeout": 0.5, "retries": 0}
    return {
        "site": {"id": spec.site_id, "name": spec.name, "province": PROVINCE, "district": "Long Thành"},
        "links": [leased, tslcd],
        "platforms": [{"name": name, "system": system, "url": f"{platform_base}/{name}/", "link": "tslcd"}
                      for name, system in PLATFORMS],
        "probes": probe_options(gateway is None, icmp),
        "agent": {"metrics_port": 0, "heartbeat_interval": f"{HEARTBEAT_SECONDS}s"},
        "collector": {"url": collector_url, "token_file": str(token_file), "ship_interval": f"{SHIP_INTERVAL_SECONDS}s",
                      "insecure_http": collector_url.startswith("http://"),  # the demo's own namespaces
                      "request_timeout": "3s", "max_backoff": "5s", "config_poll_interval": "1h"},
        "state_dir": str(state_dir),
    }


def demo_readiness(story_started_at: float, now: float, *, loopback: bool) -> dict[str, Any]:
    """The ``readiness:`` section that judges what the demo played: a window from the story's start
    to the last whole bucket, buckets a run of a few minutes fills, and requirements it can meet.

    - utilisation of the contracted rate (SNMP, p95 ≤ 80 %) is required, so the saturated line
      counts (namespace mode; loopback has no SNMP);
    - no throughput requirement: the demo runs no throughput test (docs/demo.md);
    - platform response p95 ≤ 5 s, above the story's slowdown (3.5 s for a third of the
      communes): that slowdown is the platform's incident (PlatformSlow alerts from 3 s), not
      the communes' unreadiness. Reachability stays at the go-live 95 %.
    """
    bucket = READINESS_BUCKET_SECONDS
    end = now // bucket * bucket  # the report leaves out the bucket in progress
    window = max(bucket, math.ceil((end - story_started_at) / bucket) * bucket)
    return {"window": f"{window:g}s", "reporting": {"bucket": f"{bucket}s"}, "throughput": None,
            "platforms": {"max_response": "5s"},
            "utilisation": None if loopback else {"percentile": 95, "max_ratio": 0.8}}


def demo_rules(path: Path, for_seconds: int) -> Path:
    """The go-live default rules with every ``for`` shortened, so a few-minute story can fire them."""
    from netmon.alerting.rules import DEFAULT_RULES_FILE

    text = re.sub(r"^(\s+)for: \S+$", rf"\g<1>for: {for_seconds}s", DEFAULT_RULES_FILE.read_text(encoding="utf-8"),
                  flags=re.MULTILINE)
    path.write_text(text, encoding="utf-8")
    return path


def write_yaml(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
