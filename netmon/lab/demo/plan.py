"""What the demo builds: communes with their contracted rates, each site's agent config, the
central registry and ``central.yaml`` — all as plain data written to the output folder."""

from __future__ import annotations

import dataclasses
import importlib.util
import re
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


def _defaults_file() -> Path | None:
    spec = importlib.util.find_spec("alerting")
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / "default_rules.yaml"
    return path if path.exists() else None


def alerting_available() -> bool:
    """Alerting (issue #4) ships ``alerting/default_rules.yaml``; before it lands the package is a stub."""
    return _defaults_file() is not None


def dashboards_available() -> bool:
    return importlib.util.find_spec("netmon.cli.dashboards_cmd") is not None


def registry_entry(spec: CommuneSpec) -> dict[str, Any]:
    return {"id": spec.site_id, "name": spec.name, "province": PROVINCE, "district": "Long Thành",
            "links": [{"name": "leased", "kind": "leased_line", "contracted_mbps": spec.leased_mbit},
                      {"name": "tslcd", "kind": "data_network", "contracted_mbps": spec.tslcd_mbit}]}


def probe_options(loopback: bool) -> dict[str, dict[str, Any]]:
    """Short intervals so a four-minute story shows several samples per phase."""
    echo = {"interval": "3s", "timeout": "2.5s", "count": 5, "spacing": "0.1s", "reply_timeout": "1s"}
    probes: dict[str, dict[str, Any]] = {"icmp": dict(echo), "udp_echo": {**echo, "port": REFLECTOR_PORT},
                                         "http": {"interval": "4s", "timeout": "8s"}}
    if not loopback:
        probes["snmp_if"] = {"interval": "3s", "timeout": "2s"}
    return probes


def site_config(spec: CommuneSpec, *, collector_url: str, token_file: Path, state_dir: Path,
                isp_edge: str, provincial_dc: str, platform_base: str, gateway: str | None) -> dict[str, Any]:
    """The agent's site.yaml. ``gateway`` is the router's LAN address (SNMP); None in loopback mode."""
    leased: dict[str, Any] = {"name": "leased", "kind": "leased_line", "contracted_mbps": spec.leased_mbit,
                              "targets": [{"host": isp_edge, "name": "isp-edge"}], "probes": ["icmp", "udp_echo"]}
    tslcd: dict[str, Any] = {"name": "tslcd", "kind": "data_network", "contracted_mbps": spec.tslcd_mbit,
                             "targets": [{"host": provincial_dc, "name": "provincial-dc"}], "probes": ["icmp"]}
    if gateway is not None:
        for link in (leased, tslcd):
            link["snmp"] = {"host": gateway, "version": "2c", "community": "netmon-lab", "if_name": link["name"]}
    return {
        "site": {"id": spec.site_id, "name": spec.name, "province": PROVINCE, "district": "Long Thành"},
        "links": [leased, tslcd],
        "platforms": [{"name": name, "system": system, "url": f"{platform_base}/{name}/", "link": "tslcd"}
                      for name, system in PLATFORMS],
        "probes": probe_options(gateway is None),
        "agent": {"metrics_port": 0, "heartbeat_interval": "5s"},
        "collector": {"url": collector_url, "token_file": str(token_file), "ship_interval": f"{SHIP_INTERVAL_SECONDS}s",
                      "request_timeout": "3s", "max_backoff": "5s", "config_poll_interval": "1h"},
        "state_dir": str(state_dir),
    }


def demo_rules(path: Path, for_seconds: int) -> Path:
    """The go-live default rules with every ``for`` shortened, so a few-minute story can fire them."""
    defaults = _defaults_file()
    assert defaults is not None
    text = re.sub(r"^(\s+)for: \S+$", rf"\g<1>for: {for_seconds}s", defaults.read_text(encoding="utf-8"),
                  flags=re.MULTILINE)
    path.write_text(text, encoding="utf-8")
    return path


def alerting_section(workdir: Path, console_log: Path, for_seconds: int, webhook: str | None,
                     extra: dict[str, Any] | None) -> dict[str, Any]:
    """Console channel (a file, so it does not fight the live view), plus the optional webhook and the
    teams/channels of ``--alerting-config`` (an ``alerting:`` mapping in the central.yaml format)."""
    channels: list[dict[str, Any]] = [{"name": "console", "type": "console", "path": str(console_log)}]
    if webhook:
        channels.append({"name": "webhook", "type": "webhook", "url": webhook})
    extra_channels = list((extra or {}).get("channels", []))
    noc_channels = [c["name"] for c in channels + extra_channels]
    section: dict[str, Any] = {
        "rules_file": str(demo_rules(workdir / "rules.yaml", for_seconds)),
        "language": "vi",
        "teams": [{"name": "rrt-dong-nai", "province": PROVINCE, "channels": noc_channels}],
        "default_team": "rrt-dong-nai", "platform_team": "rrt-dong-nai",
        "channels": channels + extra_channels,
        "group_wait": "1s",
        "storm": {"min_sites": 5, "wait": "5s", "clear_for": "10s"},
        "platform": {"min_sites": 2, "wait": "5s", "clear_for": "10s"},
    }
    return section


def write_yaml(path: Path, data: Any) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path
