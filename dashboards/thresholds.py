"""The limits dashboards colour by: the same warning/critical values the alert rules use.

A panel that turns red where no alert fires (or the reverse) teaches NOC staff to ignore
one of them, so the defaults here are the alerting defaults (utilisation 80 % / 95 % of the
contracted rate; RTT, jitter and loss per link kind — a test keeps them equal to
``alerting/default_rules.yaml``), and ``netmon dashboards build --config`` colours by the rules
file the collector actually alerts with (``from_alert_rules``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from netmon.contract import LinkKind, Status


class Limit(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    warning: float = Field(ge=0)
    critical: float = Field(ge=0)

    @model_validator(mode="after")
    def _ordered(self) -> Limit:
        if self.critical < self.warning:
            raise ValueError("critical must be at or above warning")
        return self


class LinkKindLimits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rtt_seconds: Limit
    jitter_seconds: Limit
    loss_ratio: Limit


class Thresholds(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    utilisation_ratio: Limit = Limit(warning=0.80, critical=0.95)
    # Normal values differ by an order of magnitude between an office LAN, a leased Internet
    # line and the provincial data network, so each kind has its own limits.
    link_kinds: dict[LinkKind, LinkKindLimits] = Field(default_factory=lambda: dict(DEFAULT_LINK_KIND_LIMITS))
    platform_response_seconds: Limit = Limit(warning=3.0, critical=10.0)

    def for_kind(self, kind: LinkKind) -> LinkKindLimits:
        return self.link_kinds.get(kind, DEFAULT_LINK_KIND_LIMITS[kind])


DEFAULT_LINK_KIND_LIMITS: dict[LinkKind, LinkKindLimits] = {
    LinkKind.LAN: LinkKindLimits(rtt_seconds=Limit(warning=0.020, critical=0.100),
                                 jitter_seconds=Limit(warning=0.010, critical=0.030),
                                 loss_ratio=Limit(warning=0.01, critical=0.05)),
    LinkKind.LEASED_LINE: LinkKindLimits(rtt_seconds=Limit(warning=0.080, critical=0.200),
                                         jitter_seconds=Limit(warning=0.030, critical=0.060),
                                         loss_ratio=Limit(warning=0.02, critical=0.10)),
    LinkKind.DATA_NETWORK: LinkKindLimits(rtt_seconds=Limit(warning=0.050, critical=0.150),
                                          jitter_seconds=Limit(warning=0.020, critical=0.050),
                                          loss_ratio=Limit(warning=0.01, critical=0.05)),
}

# How a status_level (schema: 0 ok, 1 degraded, 2 failed, 3 error) reads and is coloured.
STATUS_TEXT_VI: dict[Status, str] = {
    Status.OK: "Tốt",
    Status.DEGRADED: "Suy giảm",
    Status.FAILED: "Mất kết nối",
    Status.ERROR: "Lỗi đo",
}
STATUS_COLOUR: dict[Status, str] = {
    Status.OK: "green",
    Status.DEGRADED: "yellow",
    Status.FAILED: "red",
    Status.ERROR: "purple",
}
STATUS_LEVEL: dict[Status, int] = {Status.OK: 0, Status.DEGRADED: 1, Status.FAILED: 2, Status.ERROR: 3}

LINK_KIND_VI: dict[LinkKind, str] = {
    LinkKind.LAN: "mạng LAN",
    LinkKind.LEASED_LINE: "kênh thuê riêng",
    LinkKind.DATA_NETWORK: "mạng truyền số liệu chuyên dùng",
}


def _limit(rule: Any, kind: LinkKind | None, fallback: Limit) -> Limit:
    found = rule.thresholds_for(kind) if rule is not None else None
    if found is None or (found.warning is None and found.critical is None):
        return fallback
    warning = found.warning if found.warning is not None else found.critical
    critical = found.critical if found.critical is not None else found.warning
    return Limit(warning=warning, critical=critical)


def from_alert_rules(rules: Iterable[Any]) -> Thresholds:
    """The dashboards' limits taken from the alert rules in force (``alerting.rules.load_rules``):
    LinkUtilisationHigh, LinkRttHigh, LinkJitterHigh, LinkLossHigh, PlatformSlow. A rule that
    is disabled or missing keeps the default."""
    by_name = {rule.name: rule for rule in rules}
    defaults = Thresholds()
    kinds = {}
    for kind in LinkKind:
        base = defaults.for_kind(kind)
        kinds[kind] = LinkKindLimits(
            rtt_seconds=_limit(by_name.get("LinkRttHigh"), kind, base.rtt_seconds),
            jitter_seconds=_limit(by_name.get("LinkJitterHigh"), kind, base.jitter_seconds),
            loss_ratio=_limit(by_name.get("LinkLossHigh"), kind, base.loss_ratio))
    return Thresholds(
        utilisation_ratio=_limit(by_name.get("LinkUtilisationHigh"), None, defaults.utilisation_ratio),
        link_kinds=kinds,
        platform_response_seconds=_limit(by_name.get("PlatformSlow"), None, defaults.platform_response_seconds))
