"""Builders shared by the alerting tests: a province registry, real ResultRecords, an engine."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

from netmon.alerting.engine import AlertEngine
from netmon.alerting.rules import Rule
from netmon.alerting.store import AlertStore, open_store
from netmon.config.alerting import AlertingConfig
from netmon.config.registry import Province, Registry, RegistryLink, RegistrySite
from netmon.contract import LinkKind, ProbeKind, ResultRecord, Status
from netmon.statedb import StateLocation

T0 = 1_751_331_600.0  # 2025-07-01 08:00 Asia/Ho_Chi_Minh, go-live day
PROVINCE = "Đồng Nai"
TEAM = "rrt-dong-nai"
WARDS = ["Phường Tân Phong", "Phường Trảng Dài", "Xã Long Hưng", "Phường Hố Nai", "Xã Phước Tân",
         "Phường Tam Hiệp", "Xã Hóa An", "Phường Bửu Long", "Xã Tân Hạnh", "Phường Long Bình"]
_seq = itertools.count(1)


def site(i: int, upstream: str | None = "dn-agg-bienhoa", team: str | None = None) -> RegistrySite:
    name = WARDS[i % len(WARDS)] + (f" {i // len(WARDS) + 1}" if i >= len(WARDS) else "")
    return RegistrySite(
        id=f"26{i:03d}", name=name, province=PROVINCE, district="Biên Hòa", upstream=upstream, team=team,
        links=[RegistryLink(name="leased", kind=LinkKind.LEASED_LINE, contracted_mbps=20),
               RegistryLink(name="tslcd", kind=LinkKind.DATA_NETWORK, contracted_mbps=100),
               RegistryLink(name="lan", kind=LinkKind.LAN)])


def registry(n_sites: int = 3, upstream: str | None = "dn-agg-bienhoa") -> Registry:
    return Registry(provinces=[Province(name=PROVINCE, default_team=TEAM, upstream="dn-tslcd-core")],
                    sites=[site(i, upstream) for i in range(n_sites)])


def record(site_id: str, probe: ProbeKind, t: float, values: dict[str, float] | None = None, *,
           link: str | None = "leased", link_kind: LinkKind | None = LinkKind.LEASED_LINE,
           target: str = "isp-edge", status: Status = Status.OK, reason: str | None = None) -> ResultRecord:
    if status is not Status.OK and reason is None:
        reason = "timeout"
    return ResultRecord(site_id=site_id, agent_id=f"{site_id}-agent", seq=next(_seq), probe=probe, link=link,
                        link_kind=link_kind, target=target, time_ns=int(t * 1e9), status=status, reason=reason,
                        values=values or {})


def utilisation(site_id: str, t: float, ratio: float, link: str = "leased") -> ResultRecord:
    kind = LinkKind.LEASED_LINE if link == "leased" else LinkKind.DATA_NETWORK
    return record(site_id, ProbeKind.SNMP_IF, t, {"utilisation_ratio": ratio, "out_utilisation_ratio": ratio,
                                                  "in_utilisation_ratio": ratio / 4, "contracted_bps": 20e6},
                  link=link, link_kind=kind, target="router")


def heartbeat(site_id: str, t: float) -> ResultRecord:
    return record(site_id, ProbeKind.AGENT, t, {"uptime_seconds": 100.0}, link=None, link_kind=None, target="agent")


def alerting_config(channels: list[dict[str, Any]], **extra: Any) -> AlertingConfig:
    names = [c["name"] for c in channels]
    team: dict[str, Any] = {"name": TEAM, "province": PROVINCE, "channels": names}
    team.update(extra.pop("team", {}))
    return AlertingConfig.model_validate({"channels": channels, "teams": [team], "group_wait": 3, **extra})


def engine(state: Path | StateLocation, config: AlertingConfig, reg: Registry, rules: list[Rule] | None = None,
           now: float = T0) -> AlertEngine:
    """An engine on ``state``: a directory (its SQLite file) or a backend's location (``alert_state``)."""
    location = state if isinstance(state, StateLocation) else StateLocation(state_dir=state, instance="test")
    return AlertEngine(config, store=open_store(location), instance=location.instance, registry=reg,
                       ship_interval_seconds=10.0, grafana_url="http://grafana.test", rules=rules, now=now)


async def step(eng: AlertEngine, now: float) -> int:
    """One pass of what the service loop does every second."""
    eng.tick(now)
    return await eng.deliver(now)


def notification_rows(store: AlertStore, channel: str | None = None) -> list[dict[str, object]]:
    """Every queued notification row, delivered or not, oldest first (what the tests inspect)."""
    return store.notifications(channel)
